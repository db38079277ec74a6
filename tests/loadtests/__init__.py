"""Tests of the Locust load tests.

Locust monkey-patches the standard library with gevent when it is first imported. Inside a
pytest session other modules (requests, boto3, ssl) are usually imported before it, and a late
patch breaks ssl (RecursionError in urllib3). The unit tests need no cooperative I/O, so Locust
is imported here once without the patch; the environment variable is restored at once so the
Locust subprocesses of the integration tests run patched, as Locust expects.
"""

import os

_previous = os.environ.get("LOCUST_SKIP_MONKEY_PATCH")
os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    import locust  # noqa: F401
finally:
    if _previous is None:
        del os.environ["LOCUST_SKIP_MONKEY_PATCH"]
    else:
        os.environ["LOCUST_SKIP_MONKEY_PATCH"] = _previous
