"""One Lambda execution environment: a process that imports a handler and serves invocations.

Started by ``handlers.ExecutionEnvironment`` as ``python -m local_stack.stream_runtime.worker``
with the function's environment (``_HANDLER`` names the handler). Protocol, one JSON object per
line: the worker first says ``{"ready": true, "init_error": ...}``; then for each request line
on stdin (``{"id", "event", "deadline_ms", ...}``) it answers ``{"id", "ok": true, "result",
"duration_ms"}`` or ``{"id", "ok": false, "errorType", "errorMessage", "stackTrace",
"duration_ms"}``. Replies go to a private copy of the original stdout; the handler's own
``print`` output and logging go to stderr, which the runtime inherits. The worker exits when
stdin closes.

The handler's return value must be JSON-serialisable, as on Lambda (``Runtime.MarshalError``
otherwise). Timeouts are enforced by the parent, which kills this process.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from typing import Any, TextIO


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-20:],
    }


def _send(out: TextIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def main() -> int:
    replies = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # the handler's prints go to stderr, never into the protocol
    sys.stdout = sys.stderr
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s [" + os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "?")
        + "] %(name)s: %(message)s",
    )
    from local_stack.stream_runtime.handlers import LambdaContext, resolve_handler

    init_error: dict[str, Any] | None = None
    handler: Any = None
    try:
        handler = resolve_handler(os.environ["_HANDLER"])
    except (ImportError, SyntaxError) as exc:
        init_error = _error(exc, "Runtime.ImportModuleError")
    except Exception as exc:  # bad handler string, missing attribute, module init raised
        init_error = _error(exc, "Runtime.HandlerNotFound"
                            if isinstance(exc, (AttributeError, ValueError, TypeError))
                            else "Runtime.UserCodeSyntaxError")
    _send(replies, {"ready": True, "init_error": init_error})

    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        reply: dict[str, Any] = {"id": request["id"]}
        if init_error is not None:
            _send(replies, {**reply, "ok": False, **init_error, "duration_ms": 0.0})
            continue
        context = LambdaContext(
            function_name=request["function_name"],
            function_arn=request["function_arn"],
            memory_mb=request["memory_mb"],
            aws_request_id=request["id"],
            deadline_epoch_ms=request["deadline_ms"],
            log_group_name=request["log_group"],
            log_stream_name=request["log_stream"],
        )
        started = time.perf_counter()
        try:
            result = handler(request["event"], context)
            elapsed = (time.perf_counter() - started) * 1000.0
            try:
                body = json.dumps({**reply, "ok": True, "result": result, "duration_ms": elapsed})
            except (TypeError, ValueError) as exc:
                _send(replies, {**reply, "ok": False, **_error(exc, "Runtime.MarshalError"),
                                "duration_ms": elapsed})
                continue
            replies.write(body + "\n")
            replies.flush()
        except Exception as exc:
            elapsed = (time.perf_counter() - started) * 1000.0
            _send(replies, {**reply, "ok": False, **_error(exc), "duration_ms": elapsed})
    return 0


if __name__ == "__main__":
    sys.exit(main())
