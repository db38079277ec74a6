"""Stream heartbeats: one tiny write per streamed table every `HEARTBEAT_INTERVAL_S` (1 s).

A Lambda consumer publishes IteratorAge only when it is invoked, so an idle stream and a stalled
consumer look the same to CloudWatch (no data). The heartbeat keeps a healthy consumer invoked
even when no shopper writes, so "no data" really means "stalled", and every consumer counts the
heartbeat records it acknowledges in a high-resolution custom metric (`ConsumerHeartbeats`,
namespace Shop, by FunctionName, from `reference_app.handlers.common`): about one per second
while it consumes, whatever the load. The silent-consumer alarms
(`dashboards.cloudwatch_alarms.consumer_silent_alarm`) watch that count: Lambda's own metrics
are 1-minute on AWS, so a sub-minute "the consumer stopped" needs a metric of this kind.

On AWS the writer is a scheduled function (an EventBridge rule fires at most once a minute, so
it loops, writing every second, for the minute it runs); the local stack writes from its chores
(`local_stack.chores`) on a fixed-rate schedule.

Heartbeat rows are recognisable by `HEARTBEAT_ATTR`; handlers acknowledge and count them and do
nothing else, and the audit skips them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from reference_app.config import Settings

log = logging.getLogger(__name__)

HEARTBEAT_ATTR = "Heartbeat"
HEARTBEAT_ID = "heartbeat"
# Seconds between two heartbeat writes per table: the silent-consumer alarm's threshold is
# derived from it (a 10-second period expects 10 heartbeats per consumer).
HEARTBEAT_INTERVAL_S = 1.0


def heartbeat_keys(settings: Settings) -> dict[str, dict[str, dict[str, str]]]:
    """The key of the heartbeat row in each table that a consumer reads."""
    t = settings.tables
    return {
        t.orders: {"OrderId": {"S": HEARTBEAT_ID}},
        t.payments: {"IdempotencyKey": {"S": HEARTBEAT_ID}},
        t.reviews: {"ProductId": {"S": HEARTBEAT_ID}, "ItemId": {"S": HEARTBEAT_ID}},
    }


def is_heartbeat(image: dict[str, Any] | None) -> bool:
    """True for a heartbeat row, as a deserialised or a raw DynamoDB image."""
    return bool(image) and HEARTBEAT_ATTR in image


def beat(settings: Settings, client: Any = None) -> int:
    """Write one heartbeat per streamed table; returns how many writes succeeded."""
    if client is None:
        from reference_app import aws  # boto3: only for the writer, not for the constants

        client = aws.client("dynamodb", settings)
    now = str(int(time.time() * 1000))
    ok = 0
    for table, key in heartbeat_keys(settings).items():
        try:
            client.put_item(TableName=table, Item={**key, HEARTBEAT_ATTR: {"N": now}})
            ok += 1
        except Exception as exc:  # the next beat will try again
            log.warning("heartbeat to %s failed: %s", table, exc)
    return ok


# On AWS: EventBridge invokes the writer once a minute, and each invocation writes every
# HEARTBEAT_INTERVAL_S for SCHEDULED_RUN_S, a little longer than the minute, so consecutive runs
# overlap (EventBridge's delivery jitters by seconds) and no 10-second period goes without its
# beats. The function's timeout (deploy.aws.template) leaves room for the last writes.
SCHEDULE_EVERY_S = 60.0
SCHEDULED_RUN_S = 66.0
# stop writing this long before the function's own timeout, whatever SCHEDULED_RUN_S says
TIMEOUT_MARGIN_S = 3.0


def handler(event: dict[str, Any], context: Any, *, clock: Any = time.monotonic,
            sleep: Any = time.sleep, writer: Any = None) -> dict[str, int]:
    """Scheduled-Lambda entry point: one beat per `HEARTBEAT_INTERVAL_S` (fixed rate, not
    drifting with the write time) for `SCHEDULED_RUN_S`, or until `TIMEOUT_MARGIN_S` before the
    invocation's timeout. `clock`, `sleep` and `writer` are for tests."""
    if writer is None:
        settings = Settings.from_env()

        def writer() -> int:
            return beat(settings)
    started = clock()
    run_s = SCHEDULED_RUN_S
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is not None:
        run_s = min(run_s, remaining_ms() / 1000.0 - TIMEOUT_MARGIN_S)
    written = beats = 0
    while True:
        written += writer()
        beats += 1
        next_at = started + beats * HEARTBEAT_INTERVAL_S
        if next_at - started > run_s:
            return {"written": written, "beats": beats}
        sleep(max(0.0, next_at - clock()))
