"""Make moto's DynamoDB behave like DynamoDB where the harness depends on it.

Two gaps in moto 5.x, found while building the shop (both verified in moto's source):

1. **No isolation.** The threaded server runs requests concurrently and moto's conditional
   writes read-then-write without a lock, so two writers can both pass `Version = :v`, and a
   read can see a transaction's half-applied writes. DynamoDB serialises each item's writes and
   makes transactions all-or-nothing to readers. Fix: every DynamoDB and DynamoDB Streams API
   call runs under one lock. moto is bound by the GIL anyway, so this costs little throughput
   (measured: see bench/moto_isolation.py).

2. **A cancelled transaction replaces the tables and their stream shards.** moto deep-copies
   every table a TransactWriteItems touches and, when the transaction is cancelled, puts the
   copies back. The stream shard goes with the copy, so every open shard iterator (a consumer's
   position) keeps pointing at the old shard and never sees a later write: the consumer stalls
   silently. Fix: keep the original shard object, drop the records the cancelled transaction
   appended to it (they never happened), and attach it to the restored table.

`install()` patches once and refuses to run if moto's code has moved (MotoHookNotFound).
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

log = logging.getLogger("local_stack.moto_dynamodb_fixes")

DYNAMODB_LOCK = threading.RLock()
_installed = False


class MotoHookNotFound(RuntimeError):
    """moto changed: a patched attribute is gone."""


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            return method(self, *args, **kwargs)

    call.__wrapped_by_gameday__ = True  # type: ignore[attr-defined]
    return call


def _keep_shards(transact: Any) -> Any:
    @functools.wraps(transact)
    def call(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with DYNAMODB_LOCK:
            shards: dict[str, tuple[Any, int]] = {}
            for item in transact_items:
                _, op = next(iter(item.items()))
                name = op.get("TableName")
                table = self.tables.get(name) if name else None
                if table is not None and getattr(table, "stream_shard", None) is not None:
                    shards[name] = (table.stream_shard, len(table.stream_shard.items))
            try:
                return transact(self, transact_items)
            except Exception:
                for name, (shard, length) in shards.items():
                    restored = self.tables.get(name)
                    del shard.items[length:]
                    if restored is not None and restored.stream_shard is not shard:
                        shard.table = restored
                        restored.stream_shard = shard
                raise

    return call


def install() -> None:
    """Patch moto's DynamoDB and DynamoDB Streams handlers (idempotent)."""
    global _installed
    if _installed:
        return
    try:
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.responses import DynamoHandler
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    except ImportError as exc:
        raise MotoHookNotFound(f"moto's DynamoDB modules moved: {exc}") from exc
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        if not callable(getattr(handler, "call_action", None)):
            raise MotoHookNotFound(f"{handler.__name__}.call_action not found")
        handler.call_action = _serialised(handler.call_action)  # type: ignore[method-assign]
    if not callable(getattr(DynamoDBBackend, "transact_write_items", None)):
        raise MotoHookNotFound("DynamoDBBackend.transact_write_items not found")
    DynamoDBBackend.transact_write_items = _keep_shards(  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items)
    _installed = True
    log.info("moto DynamoDB: API calls serialised; stream shards kept on cancelled transactions")
