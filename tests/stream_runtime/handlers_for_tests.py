"""Lambda-style handlers the stream runtime tests deploy (they run in worker processes).

Each handler appends one JSON line per invocation to ``$TEST_DIR/calls.jsonl`` (sequence
numbers, partition keys, times, pid, a few context attributes), so a test can see exactly what
was delivered and in which order. A record whose NewImage has ``poison`` set is a failure for
``fail_on_poison`` (raises) and ``partial_on_poison`` (reported in batchItemFailures) until the
file ``$TEST_DIR/heal`` exists.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def _dir() -> Path:
    return Path(os.environ["TEST_DIR"])


def _seqs(event: dict[str, Any]) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]


def _poisoned(record: dict[str, Any]) -> bool:
    image = record["dynamodb"].get("NewImage") or {}
    return "poison" in image and not (_dir() / "heal").exists()


def _record(event: dict[str, Any], context: Any, **extra: Any) -> None:
    line = {
        "function": context.function_name,
        "request_id": context.aws_request_id,
        "seqs": _seqs(event),
        "keys": [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]],
        "t": time.time(),
        "pid": os.getpid(),
        **extra,
    }
    with open(_dir() / "calls.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


def record_calls(event: dict[str, Any], context: Any) -> None:
    _record(event, context)


def fail_on_poison(event: dict[str, Any], context: Any) -> None:
    _record(event, context)
    bad = [r["dynamodb"]["SequenceNumber"] for r in event["Records"] if _poisoned(r)]
    if bad:
        raise ValueError(f"poison records {bad}")


def partial_on_poison(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record(event, context)
    failed = [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
              for r in event["Records"] if _poisoned(r)]
    return {"batchItemFailures": failed}


def slow(event: dict[str, Any], context: Any) -> None:
    start = time.time()
    time.sleep(float(os.environ.get("SLEEP_S", "0.3")))
    _record(event, context, start=start, end=time.time())


def inspect_context(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record(event, context, delivered_event=event, ctx={
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_version": context.function_version,
    }, env={k: os.environ.get(k) for k in (
        "GREETING", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "_HANDLER",
        "OTHER_FUNCTION_ONLY")})
    return {"batchItemFailures": []}


def sleep_past_timeout(event: dict[str, Any], context: Any) -> None:
    _record(event, context)
    if not (_dir() / "heal").exists():
        time.sleep(30)


def say(event: dict[str, Any], context: Any) -> None:
    """Write one JSON line per record to stderr (the function's log stream)."""
    import sys

    _record(event, context)
    for seq in _seqs(event):
        sys.stderr.write(json.dumps({"said": seq, "pid": os.getpid()}) + "\n")
        sys.stderr.flush()
