"""X-Ray tracing for the shop services and handlers (aws-xray-sdk).

- Flask middleware on every service; botocore and requests patched, so DynamoDB calls and the
  storefront → payments/reviews calls are subsegments, and the trace header travels to payments.
- Sampling rules come from `xray_sampling_rules.json` (local rules: the centralized rule poller
  needs the real daemon's TCP API, which the local stand-in does not serve): AWS's default rule
  (1 request a second, then 5 %) for everything but checkout and payments, which are traced up
  to 50 a second so each order has its trace; handler segments follow the order's decision.
- Segments go over UDP to AWS_XRAY_DAEMON_ADDRESS (the local stack runs a receiver that hands
  them to the local X-Ray API); with nobody listening the SDK drops them and the request goes on.
  The sending socket is bound to 127.0.0.1 when the daemon is on loopback (xray_emitter).
- `SHOP_TRACING_ENABLED=false` switches all of it off (used to measure its cost).
- Stream handlers join the order's trace: `handler_segment(name, trace_header)` opens a segment
  whose trace id and parent come from the order's stored `TraceHeader`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RULES_FILE = Path(__file__).with_name("xray_sampling_rules.json")
_configured = False


def tracing_enabled() -> bool:
    return os.environ.get("SHOP_TRACING_ENABLED", "true").strip().lower() not in {
        "0", "false", "no", "off"
    }


def configure_recorder(service: str) -> Any | None:
    """Configure the global recorder once per process; None when tracing is off."""
    global _configured
    if not tracing_enabled():
        return None
    from aws_xray_sdk.core import patch, xray_recorder
    from aws_xray_sdk.core.context import Context
    from aws_xray_sdk.core.sampling.local.sampler import LocalSampler

    from reference_app.xray_emitter import LoopbackUDPEmitter

    if not _configured:
        rules = json.loads(RULES_FILE.read_text())
        daemon = os.environ.get("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000")
        xray_recorder.configure(
            service=f"shop-{service}",
            sampler=LocalSampler(rules),
            context_missing="IGNORE_ERROR",
            # the SDK's emitter, but bound to 127.0.0.1 when the daemon is on loopback
            emitter=LoopbackUDPEmitter(daemon),
            daemon_address=daemon,
            streaming_threshold=50,
            # a plain context even inside Lambda (where the SDK would refuse begin_segment):
            # handler segments carry the order's trace id, so they join the checkout's trace
            context=Context(),
        )
        patch(("botocore", "requests"))
        logging.getLogger("aws_xray_sdk").setLevel(logging.ERROR)
        _configured = True
    return xray_recorder


def install(app: Any, service: str) -> None:
    """X-Ray middleware on a Flask app (no-op when tracing is off)."""
    recorder = configure_recorder(service)
    if recorder is None:
        return
    from aws_xray_sdk.ext.flask.middleware import XRayMiddleware

    XRayMiddleware(app, recorder)


def current_trace_header() -> str | None:
    """`Root=...;Parent=...;Sampled=...` of the current segment/subsegment, to store in a record."""
    if not tracing_enabled() or not _configured:
        return None
    from aws_xray_sdk.core import xray_recorder

    entity = xray_recorder.get_trace_entity() if xray_recorder.context else None
    if entity is None or not getattr(entity, "trace_id", None):
        return None
    sampled = 1 if getattr(entity, "sampled", True) else 0
    return f"Root={entity.trace_id};Parent={entity.id};Sampled={sampled}"


def annotate(key: str, value: str | int | float | bool) -> None:
    """Add an indexed annotation to the current segment, if any."""
    if not tracing_enabled() or not _configured:
        return
    from aws_xray_sdk.core import xray_recorder

    entity = xray_recorder.get_trace_entity()
    if entity is not None and hasattr(entity, "put_annotation"):
        entity.put_annotation(key, value)


@contextlib.contextmanager
def handler_segment(function_name: str, trace_header: str | None) -> Iterator[Any]:
    """A segment for one record's processing in a stream handler, joined to the order's trace."""
    recorder = configure_recorder(function_name)
    if recorder is None or not trace_header:
        yield None
        return
    from aws_xray_sdk.core.models.trace_header import TraceHeader

    header = TraceHeader.from_header_str(trace_header)
    # the checkout's sampling decision travels with its trace, as between services on AWS: an
    # unsampled order's handler segments are not sent (they were always sent, each with a
    # subsegment per AWS call, whatever the checkout's own rule had decided)
    sampled = 0 if str(header.sampled) == "0" else 1
    segment = recorder.begin_segment(
        name=function_name, traceid=header.root, parent_id=header.parent, sampling=sampled
    )
    try:
        segment.origin = "AWS::Lambda::Function"
        yield segment
    except Exception as exc:
        segment.add_exception(exc, [], remote=False)
        raise
    finally:
        recorder.end_segment()
