"""Import Locust inside a pytest session without its gevent monkey-patching.

Locust patches the standard library with gevent when it is first imported. Inside a pytest
session other modules (requests, boto3, ssl) are usually imported before it, and a late patch
breaks ssl (RecursionError in urllib3). Unit tests need no cooperative I/O, so they import
Locust inside `locust_without_gevent_patch()`; the environment variable is restored at once so
the Locust subprocesses of the integration tests run patched, as Locust expects.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

_SKIP = "LOCUST_SKIP_MONKEY_PATCH"


@contextmanager
def locust_without_gevent_patch() -> Iterator[None]:
    """Imports of Locust inside this block do not monkey-patch the process."""
    previous = os.environ.get(_SKIP)
    os.environ[_SKIP] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[_SKIP]
        else:
            os.environ[_SKIP] = previous
