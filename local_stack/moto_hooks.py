"""What every module that patches moto shares: the error it raises when moto's code is not where
the patch expects it, and reading moto's source to check that it still is.

The patches (aws_server, moto_dynamodb_fixes, moto_cloudformation_fixes, moto_expression_cache,
moto_condition_cache, moto_fast_dispatch, moto_transaction_tokens) each check moto before touching
it and refuse to start otherwise; one error type lets the emulator's entry point refuse with one
message whichever check failed.
"""

from __future__ import annotations

import inspect
from typing import Any


class MotoHookNotFound(RuntimeError):
    """moto changed: a patched attribute is gone or no longer does what the patch assumes."""


def moto_source(obj: Any) -> str:
    """The source of one of moto's modules, classes or functions; MotoHookNotFound if unreadable."""
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError) as exc:
        name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj))
        raise MotoHookNotFound(f"cannot read moto's source of {name}: {exc}") from exc


def require_source(obj: Any, needle: str, review: str) -> str:
    """moto's source of `obj`, which must contain `needle`; else MotoHookNotFound naming the
    module to `review` before using this moto version."""
    source = moto_source(obj)
    if needle not in source:
        name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj))
        raise MotoHookNotFound(f"moto's {name} no longer contains {needle!r}: review {review}")
    return source
