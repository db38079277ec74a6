"""Every record a stream handler fails on, logged as one structured JSON line with its
correlation ID: what seed 004's detector reads ("monitor the Lambda Errors metric and react when
the error rate of the same correlation ID keeps increasing").

The line goes to stderr, which is the function's log stream on Lambda (CloudWatch Logs group
``/aws/lambda/<function>``) and, locally, the stream runtime's per-function log file. A
Contributor Insights rule over those log groups (``dashboards.cloudwatch_alarms``:
``stuck_correlation_rule``) counts the lines per ``correlation_id``; an alarm on its top
contributor fires when one ID keeps failing. The keys follow the shape aws-lambda-powertools'
Logger writes (``timestamp``, ``level``, ``message``, ``function_name``, ``correlation_id``),
plus ``event`` so the rule can match failures exactly, whatever the message says.

Why not Powertools' Logger itself: one line per failure is all that is needed, and the
handlers' other logging keeps its text format (the runtime's log); the field names are the
contract, defined here once and read by the rule.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from typing import TextIO

EVENT_FIELD = "event"
RECORD_FAILED = "RecordFailed"  # the value of EVENT_FIELD on a failure line
CORRELATION_ID_FIELD = "correlation_id"
FUNCTION_FIELD = "function_name"
MAX_ERROR_CHARS = 500


def failure_line(function_name: str, correlation_id: str, sequence_number: str,
                 event_name: str, exc: BaseException, now: float | None = None) -> str:
    """The JSON text logged for one failed record (no newline)."""
    at = _dt.datetime.now(_dt.UTC) if now is None else _dt.datetime.fromtimestamp(now, _dt.UTC)
    return json.dumps({
        "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": "ERROR",
        "message": f"record {sequence_number} failed: {type(exc).__name__}",
        EVENT_FIELD: RECORD_FAILED,
        FUNCTION_FIELD: function_name,
        CORRELATION_ID_FIELD: correlation_id,
        "sequence_number": sequence_number,
        "event_name": event_name,
        "error_type": type(exc).__name__,
        "error": str(exc)[:MAX_ERROR_CHARS],
    }, separators=(",", ":"))


def log_failure(function_name: str, correlation_id: str, sequence_number: str, event_name: str,
                exc: BaseException, stream: TextIO | None = None) -> None:
    """Write the failure line (one write, so lines of concurrent environments never mix)."""
    out = stream or sys.stderr
    out.write(failure_line(function_name, correlation_id, sequence_number, event_name, exc)
              + "\n")
    out.flush()
