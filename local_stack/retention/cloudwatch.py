"""CloudWatch datapoints: dropped once older than the window, and never inside any alarm's
look-back.

AWS keeps 1-second (high-resolution) datapoints 3 hours, 1-minute ones 15 days. moto keeps every
datapoint forever in one list per region (``CloudWatchBackend.metric_data``) and every
GetMetricData scans all of it, so under load the emulator grew and the alarm evaluator's
once-a-second reads got slower by the minute. Here datapoints whose timestamp is older than the
window are dropped; the window is widened, when needed, to twice the longest look-back of any
alarm moto holds: Period x the periods CloudWatch retrieves for EvaluationPeriods
(``local_stack.alarm_evaluator.evaluation.evaluation_range``), plus one period for alignment.

moto's CloudWatch handlers are not locked (a list rebuilt by the trim could lose a concurrent
PutMetricData), so every CloudWatch API call and the trim run under ``CLOUDWATCH_LOCK``: moto is
bound by the GIL anyway, as for DynamoDB.

The trim reads the per-series time index of ``local_stack.metric_index`` (the one GetMetricData
reads): a sweep with nothing expired costs a look at each series' oldest datapoint, instead of a
Python comparison per datapoint held (7 % of the idle emulator's CPU, growing with the load).
"""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import threading
from collections.abc import Iterable
from typing import Any

from local_stack import metric_index
from local_stack.alarm_evaluator.evaluation import evaluation_range
from local_stack.moto_dynamodb_fixes import MotoHookNotFound
from local_stack.retention.streams import every_backend

CLOUDWATCH_LOCK = threading.RLock()
_PATCH_MARK = "_local_stack_cloudwatch_lock"


def install() -> None:
    """Serialise moto's CloudWatch API calls with the trim (idempotent)."""
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse

    try:
        source = inspect.getsource(CloudWatchBackend.put_metric_data)
    except (OSError, TypeError) as exc:
        raise MotoHookNotFound(f"cannot read moto's CloudWatch source: {exc}") from exc
    if "self.metric_data.append(" not in source:
        raise MotoHookNotFound("CloudWatchBackend no longer keeps datapoints in metric_data: "
                               "review local_stack/retention/cloudwatch.py")
    call_action = CloudWatchResponse.call_action
    if getattr(call_action, _PATCH_MARK, False):
        return

    @functools.wraps(call_action)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with CLOUDWATCH_LOCK:
            return call_action(self, *args, **kwargs)

    setattr(locked, _PATCH_MARK, True)
    CloudWatchResponse.call_action = locked  # type: ignore[method-assign]


def longest_lookback_s(alarms: Any) -> float:
    """The longest stretch of data any of these moto alarms reads, in seconds (0 without)."""
    longest = 0.0
    for alarm in alarms:
        try:
            period = int(alarm.period or 0)
            periods = evaluation_range(int(alarm.evaluation_periods or 1))
        except (TypeError, ValueError, AttributeError):
            continue
        longest = max(longest, float(period * (periods + 1)))
    return longest


def effective_window_s(window_s: float, alarms: Any) -> float:
    """`window_s`, widened to twice the longest alarm look-back."""
    return max(window_s, 2 * longest_lookback_s(alarms))


def trim(window_s: float, now: _dt.datetime | None = None,
         backends: Iterable[Any] | None = None) -> tuple[int, int]:
    """Drop datapoints older than the (alarm-widened) window in every backend (default: every
    account and region of the process). Returns (datapoints dropped, datapoints held)."""
    from moto.cloudwatch.models import cloudwatch_backends

    now = now or _dt.datetime.now(_dt.UTC)
    dropped = held = 0
    with CLOUDWATCH_LOCK:
        for backend in backends if backends is not None else every_backend(cloudwatch_backends):
            window = effective_window_s(window_s, list(backend.alarms.values()))
            gone, kept = metric_index.trim(backend, now - _dt.timedelta(seconds=window))
            dropped += gone
            held += kept
    return dropped, held
