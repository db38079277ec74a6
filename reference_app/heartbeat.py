"""Stream heartbeats: one tiny write per streamed table every few seconds.

A Lambda consumer publishes IteratorAge only when it is invoked, so an idle stream and a stalled
consumer look the same to CloudWatch (no data). The jam alarms treat missing data as breaching
so that a stalled consumer is caught; the heartbeat keeps a healthy consumer invoked even when
no shopper writes, so "no data" really means "stalled". On AWS this function runs on an
EventBridge schedule; the local stack calls it every `SHOP_HEARTBEAT_INTERVAL_S` seconds.

Heartbeat rows are recognisable by `HEARTBEAT_ATTR`; handlers acknowledge them and do nothing
else, and the audit skips them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from reference_app import aws
from reference_app.config import Settings

log = logging.getLogger(__name__)

HEARTBEAT_ATTR = "Heartbeat"
HEARTBEAT_ID = "heartbeat"


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
    client = client or aws.client("dynamodb", settings)
    now = str(int(time.time() * 1000))
    ok = 0
    for table, key in heartbeat_keys(settings).items():
        try:
            client.put_item(TableName=table, Item={**key, HEARTBEAT_ATTR: {"N": now}})
            ok += 1
        except Exception as exc:  # the next beat will try again
            log.warning("heartbeat to %s failed: %s", table, exc)
    return ok


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Scheduled-Lambda entry point."""
    return {"written": beat(Settings.from_env())}
