"""X-Ray traces: dropped once their last segment is older than the window.

AWS keeps traces 30 days. moto keeps every segment it was sent in one dict of traces per region
(``XRayBackend._segment_collection._traces``), and GetTraceSummaries / BatchGetTraces walk all
of it. Here a trace whose newest segment (its end, or its start while in progress) is older than
the window is dropped whole, with its segments; telemetry records (PutTelemetryRecords, unread
by the API) are kept for the last window too. Every X-Ray API call and the trim run under
``XRAY_LOCK`` (moto's segment collection is a plain dict of lists).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable
from typing import Any

from local_stack.moto_dynamodb_fixes import MotoHookNotFound
from local_stack.retention.streams import every_backend

XRAY_LOCK = threading.RLock()
_PATCH_MARK = "_local_stack_xray_lock"
RECEIVED = "local_stack_received"  # monotonic time a telemetry record arrived


def install() -> None:
    """Serialise moto's X-Ray API calls with the trim (idempotent)."""
    from moto.xray.models import SegmentCollection, XRayBackend
    from moto.xray.responses import XRayResponse

    if not hasattr(SegmentCollection(), "_traces") or \
            not callable(getattr(XRayBackend, "add_telemetry_records", None)):
        raise MotoHookNotFound("moto's X-Ray segment collection changed: "
                               "review local_stack/retention/xray.py")
    call_action = XRayResponse.call_action
    if getattr(call_action, _PATCH_MARK, False):
        return

    @functools.wraps(call_action)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with XRAY_LOCK:
            return call_action(self, *args, **kwargs)

    setattr(locked, _PATCH_MARK, True)
    XRayResponse.call_action = locked  # type: ignore[method-assign]
    add = XRayBackend.add_telemetry_records

    def add_telemetry_records(self: Any, src: Any) -> None:
        add(self, src)
        setattr(self._telemetry_records[-1], RECEIVED, time.monotonic())

    XRayBackend.add_telemetry_records = add_telemetry_records  # type: ignore[method-assign]


def _last_seen(trace: dict[str, Any]) -> float:
    """Epoch seconds of the newest moment any segment of the trace covers."""
    newest = 0.0
    for segment in trace.get("segments", []):
        newest = max(newest, float(segment.end_time or segment.start_time or 0))
    return newest


def trim(window_s: float, now: float | None = None,
         backends: Iterable[Any] | None = None) -> tuple[int, int]:
    """Drop traces (and telemetry records) older than `window_s` in every backend (default:
    every account and region of the process). Returns (traces dropped, traces held)."""
    from moto.xray.models import xray_backends

    now = time.time() if now is None else now
    cutoff = now - window_s
    telemetry_cutoff = time.monotonic() - window_s
    dropped = held = 0
    with XRAY_LOCK:
        for backend in backends if backends is not None else every_backend(xray_backends):
            traces = backend._segment_collection._traces
            old = [tid for tid, trace in traces.items() if _last_seen(trace) < cutoff]
            for tid in old:
                del traces[tid]
            dropped += len(old)
            held += len(traces)
            backend._telemetry_records[:] = [
                r for r in backend._telemetry_records
                if getattr(r, RECEIVED, telemetry_cutoff) >= telemetry_cutoff]
    return dropped, held
