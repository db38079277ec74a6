"""Make moto's DynamoDB behave like DynamoDB where the harness depends on it, at the cost
DynamoDB has.

Four deviations from moto 5.x (and two costs, 5 and 6) (each verified in moto's source; each
has a test in tests/stack/test_moto_fixes.py that runs plain ``moto.server`` and shows it fail):

1. **No isolation.** The threaded server runs requests concurrently and moto's conditional
   writes read-then-write without a lock, so two writers can both pass `Version = :v`, and a
   read can see a transaction's half-applied writes. DynamoDB serialises each item's writes and
   makes transactions all-or-nothing to readers. Fix: every DynamoDB and DynamoDB Streams API
   call runs under one lock (``DYNAMODB_LOCK``). moto is bound by the GIL anyway, so this costs
   little throughput. Control: ``test_plain_moto_loses_updates``.

2. **A cancelled transaction replaces the tables and their stream shards.** moto deep-copies
   every table a TransactWriteItems touches and, when the transaction is cancelled, puts the
   copies back. The stream shard goes with the copy, so every open shard iterator (a consumer's
   position) keeps pointing at the old shard and never sees a later write: the consumer stalls
   silently. Fix: the tables are never replaced (see 3); the records a cancelled transaction
   appended to the shard are dropped (they never happened). Control:
   ``test_plain_moto_loses_the_iterator``.

3. **Every TransactWriteItems copies whole tables.** The same deep copy makes a transaction's
   cost grow with the size of the tables it touches, stream records included: under the game
   day's load it was a third of the emulator's CPU, and throughput fell as the orders grew.
   DynamoDB's cost does not depend on the table size. Fix: before moto runs the transaction,
   only the items it names are snapshotted (a deep copy of each, or "absent"); moto's table copy
   is made an identity for the duration of the call (its ``copy`` module is shadowed in
   ``moto.dynamodb.models`` by ``_TableCopyOff``, which copies everything but a ``Table`` as
   before); on any failure the snapshotted items are put back (an absent one is removed) and
   the shard is cut back. All-or-nothing, under the lock of 1, exactly as before, minus the
   copy. Control: ``test_plain_moto_transactions_cost_grows_with_the_table``.

4. **A Query on the table's key sorts the whole table.** moto's ``Table.query`` without an
   index builds ``all_items()`` (every item of the table, sorted) and then keeps the ones with
   the queried partition key, so each query costs O(n log n) in the table size. Fix: for such a
   query ``all_items`` answers with that one partition's items (moto still filters and sorts
   them by range key as before); index queries and scans are untouched. Control: the same
   cost-ratio test as 3 (it queries too).

5. **(cost, not behaviour) Item responses serialised through the botocore shape model.** moto
   answers every call by walking the operation's output shape member by member (its generic
   ``ResponseSerializer``), under the lock of 1. For the item operations (GetItem, Query, Scan,
   BatchGetItem, PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactGetItems,
   TransactWriteItems) and Streams' GetRecords, moto's result is already the wire format
   (``dynamo_to_dict`` of its items: AttributeValue maps, counts, keys; a record's creation
   time is the one datetime, written as moto writes it), so the walk re-emits the same JSON at
   several times the cost: it was a third of the emulator's CPU under the shop's load, every
   other DynamoDB call waiting on the lock meanwhile. Fix: those results are written with
   ``json.dumps`` (same status, Content-Type, body); anything else (errors, other operations,
   a value json cannot write) goes through moto's serializer as before.
   ``test_item_responses_match_motos_serializer`` compares both on every item operation.

6. **(cost, not behaviour) A Scan deep-copies every item it reads.** moto's ``Table.scan``
   appends a deep copy of every item of the table to its results, and only then applies the
   FilterExpression and the ProjectionExpression (which builds new items anyway). The saga
   exporter scans the orders every 5 s with a filter that keeps the few orders in flight, and
   the products projected: on an idle stack that was 9 % of the emulator's CPU, growing with
   the orders. Fix: during a table (not index) Scan with a filter or a projection, moto's
   ``copy`` in ``moto.dynamodb.models.table`` hands back the stored item itself
   (``_ItemCopyOff``); the filter and projection read it (neither writes to it); the items that
   pass are deep-copied afterwards when not projected. Same items, counts, LastEvaluatedKey
   (Limit and the 1 MB page still count the items read before the filter, as on AWS), under the
   lock of 1. ``tests/stack/test_scan_copies.py`` compares both on random scans.

`install()` patches once and refuses to run if moto's code has moved (MotoHookNotFound): each
patch checks the moto source lines it relies on. Stream-record retention lives in
``local_stack.retention``; it trims shards under ``DYNAMODB_LOCK`` too.
"""

from __future__ import annotations

import calendar
import copy
import datetime
import functools
import inspect
import json
import logging
import threading
from typing import Any

from local_stack.moto_hooks import MotoHookNotFound, moto_source

log = logging.getLogger("local_stack.moto_dynamodb_fixes")

DYNAMODB_LOCK = threading.RLock()
_installed = False


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            return method(self, *args, **kwargs)

    call.__wrapped_by_gameday__ = True  # type: ignore[attr-defined]
    return call


# -- 2 and 3: transactions roll back the items they touched, not whole tables ---------------

class _CopyExcept(threading.local):
    """Stands in for the ``copy`` module inside a moto module: while ``active`` (on this
    thread, inside one of our wrappers), ``deepcopy`` of an instance of the subclass's
    ``skip`` class returns the object itself; everything else is the real ``copy``. (A class
    attribute, not an instance one: a thread-local instance's attributes are per thread.)"""

    active = False
    skip: type | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
        skip = type(self).skip
        if self.active and skip is not None and isinstance(obj, skip):
            return obj
        return copy.deepcopy(obj, memo)


class _TableCopyOff(_CopyExcept):
    """In ``moto.dynamodb.models``, inside our TransactWriteItems: a ``Table`` is not copied
    (``skip`` set by _install_transactions)."""


_TABLE_COPY = _TableCopyOff()


def _partition_get(table: Any, hash_key: Any, range_key: Any) -> Any:
    """The stored item (None when absent), read without creating entries in moto's
    ``defaultdict`` of partitions."""
    if table.range_key_attr is None:
        return table.items.get(hash_key)
    return (table.items.get(hash_key) or {}).get(range_key)


def _partition_set(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """Put `item` back under its key, or remove the key when `item` is None."""
    if table.range_key_attr is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    partition = table.items.get(hash_key)
    if item is not None:
        table.items[hash_key][range_key] = item
    elif partition is not None:
        partition.pop(range_key, None)
        if not partition:
            table.items.pop(hash_key, None)


class _ItemUndo:
    """What a transaction may change: the items it names (a copy of each as it was) and the
    length of each touched table's stream shard."""

    def __init__(self, backend: Any, transact_items: list[dict[str, Any]]) -> None:
        self.items: list[tuple[Any, Any, Any, Any]] = []  # (table, hash, range, before)
        self.shards: dict[int, tuple[Any, int]] = {}
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                table = backend.tables.get(op.get("TableName"))
                if table is None:
                    continue
                if table.stream_shard is not None:
                    self.shards.setdefault(id(table), (table.stream_shard,
                                                       len(table.stream_shard.items)))
                if op_type == "ConditionCheck":
                    continue
                if op_type == "Put":
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                hash_key, range_key = backend.get_keys_value(table, key)
            except Exception:  # noqa: BLE001 - moto refuses this entry before writing it
                continue
            before = _partition_get(table, hash_key, range_key)
            # Update mutates the stored item in place: keep a copy, not a reference
            self.items.append((table, hash_key, range_key, copy.deepcopy(before)))

    def rollback(self) -> None:
        for table, hash_key, range_key, before in reversed(self.items):
            _partition_set(table, hash_key, range_key, before)
        for shard, length in self.shards.values():
            del shard.items[length:]


def _item_rollback(transact: Any) -> Any:
    @functools.wraps(transact)
    def call(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with DYNAMODB_LOCK:
            undo = _ItemUndo(self, transact_items)
            _TABLE_COPY.active = True
            try:
                return transact(self, transact_items)
            except BaseException:
                undo.rollback()
                raise
            finally:
                _TABLE_COPY.active = False

    return call


def _install_transactions(backend_cls: Any) -> None:
    import moto.dynamodb.models as models

    method = getattr(backend_cls, "transact_write_items", None)
    if not callable(method):
        raise MotoHookNotFound("DynamoDBBackend.transact_write_items not found")
    source = moto_source(method)
    for needle in ("copy.deepcopy(", "self.tables[table_name] = original_table_state[table_name]"):
        if needle not in source:
            raise MotoHookNotFound(
                f"DynamoDBBackend.transact_write_items no longer contains {needle!r}: review "
                "local_stack/moto_dynamodb_fixes.py (item rollback) before using this moto")
    if getattr(models, "copy", None) is not copy:
        raise MotoHookNotFound("moto.dynamodb.models no longer uses the copy module as `copy`")
    from moto.dynamodb.models.table import Table

    _TableCopyOff.skip = Table
    models.copy = _TABLE_COPY  # type: ignore[attr-defined]
    backend_cls.transact_write_items = _item_rollback(method)


# -- 4: Query on the table's key reads one partition ------------------------------------------

def _partition_query(query: Any) -> Any:
    signature = inspect.signature(query)

    @functools.wraps(query)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        hash_key = arguments.get("hash_key")
        if arguments.get("index_name") or hash_key is None:
            return query(self, *args, **kwargs)
        partition = self.items.get(hash_key)
        if partition is None:
            items: list[Any] = []
        elif self.range_key_attr is None:
            items = [partition]
        else:
            items = list(partition.values())
        self.all_items = lambda: items  # shadows the method for this one call (under the lock)
        try:
            return query(self, *args, **kwargs)
        finally:
            del self.all_items

    return call


def _install_query(table_cls: Any) -> None:
    method = getattr(table_cls, "query", None)
    if not callable(method):
        raise MotoHookNotFound("Table.query not found")
    params = inspect.signature(method).parameters
    source = moto_source(method)
    if "hash_key" not in params or "index_name" not in params or \
            "item.hash_key == hash_key" not in source or "self.all_items()" not in source:
        raise MotoHookNotFound("Table.query no longer filters all_items() by hash key: review "
                               "local_stack/moto_dynamodb_fixes.py (partition query)")
    table_cls.query = _partition_query(method)


# -- 6: Scan copies the items that pass the filter, not every item ------------------------------

class _ItemCopyOff(_CopyExcept):
    """In ``moto.dynamodb.models.table``, inside our Scan: an ``Item`` is not copied (``skip``
    set by _install_scan)."""


_ITEM_COPY = _ItemCopyOff()


def _scan_copies_survivors(scan: Any) -> Any:
    signature = inspect.signature(scan)

    @functools.wraps(scan)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        projected = bool(arguments.get("projection_expression"))
        if arguments.get("index_name") or (arguments.get("filter_expression") is None
                                           and not projected):
            return scan(self, *args, **kwargs)
        with DYNAMODB_LOCK:
            _ITEM_COPY.active = True
            try:
                results, scanned, last_key = scan(self, *args, **kwargs)
            finally:
                _ITEM_COPY.active = False
            if not projected:  # projected results are new items already
                results = [copy.deepcopy(item) for item in results]
            return results, scanned, last_key

    return call


def _install_scan(table_cls: Any) -> None:
    import moto.dynamodb.models.table as table_module
    from moto.dynamodb.models.dynamo_type import Item

    method = getattr(table_cls, "scan", None)
    if not callable(method):
        raise MotoHookNotFound("Table.scan not found")
    params = inspect.signature(method).parameters
    source = moto_source(method)
    for needle in ("results.append(copy.deepcopy(item))", "filter_expression.expr(item)",
                   "r.project(projection_expression)"):
        if needle not in source:
            raise MotoHookNotFound(f"Table.scan no longer contains {needle!r}: review "
                                   "local_stack/moto_dynamodb_fixes.py (scan copies)")
    if not {"index_name", "filter_expression", "projection_expression"} <= set(params):
        raise MotoHookNotFound("Table.scan's parameters changed: review "
                               "local_stack/moto_dynamodb_fixes.py (scan copies)")
    if getattr(table_module, "copy", None) is not copy:
        raise MotoHookNotFound("moto.dynamodb.models.table no longer uses the copy module")
    _ItemCopyOff.skip = Item
    table_module.copy = _ITEM_COPY  # type: ignore[attr-defined]
    table_cls.scan = _scan_copies_survivors(method)


# -- 5: item responses written as JSON -------------------------------------------------------

FAST_JSON_OPERATIONS = frozenset({
    "GetItem", "Query", "Scan", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem",
    "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
    "GetRecords"})  # DynamoDB Streams: the stream runtime's polls, 4 a second per mapping
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"


def _unix_timestamp(value: Any) -> Any:
    """A datetime as moto's JSON serializer writes it (epoch seconds, milliseconds kept)."""
    if not isinstance(value, datetime.datetime):
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    base = calendar.timegm(value.timetuple())
    return base + (value.microsecond // 1000) / 1000.0 if value.microsecond else base


def _fast_serialized(serialized: Any) -> Any:
    """``BaseResponse.serialized`` of DynamoHandler, with item results written as JSON."""

    @functools.wraps(serialized)
    def call(self: Any, action_result: Any) -> Any:
        result = getattr(action_result, "result", None)
        if (type(result) is dict and not getattr(action_result, "_gameday_no_fast", False)
                and self._get_action() in FAST_JSON_OPERATIONS):
            try:
                body = json.dumps(result, separators=(",", ":"), default=_unix_timestamp)
            except (TypeError, ValueError):
                pass  # e.g. bytes of a B attribute: moto's serializer knows the shape
            else:
                headers = {"Content-Type": JSON_CONTENT_TYPE}
                headers.update(self.response_headers)
                return 200, headers, body
        return serialized(self, action_result)

    call.__wrapped_by_gameday__ = True  # type: ignore[attr-defined]
    return call


def install() -> None:
    """Patch moto's DynamoDB and DynamoDB Streams handlers (idempotent)."""
    global _installed
    if _installed:
        return
    try:
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import Table
        from moto.dynamodb.responses import DynamoHandler
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    except ImportError as exc:
        raise MotoHookNotFound(f"moto's DynamoDB modules moved: {exc}") from exc
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        if not callable(getattr(handler, "call_action", None)):
            raise MotoHookNotFound(f"{handler.__name__}.call_action not found")
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        if not callable(getattr(handler, "serialized", None)):
            raise MotoHookNotFound(f"{handler.__name__}.serialized not found")
    _install_transactions(DynamoDBBackend)
    _install_query(Table)
    _install_scan(Table)
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        handler.serialized = _fast_serialized(handler.serialized)  # type: ignore
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        handler.call_action = _serialised(handler.call_action)  # type: ignore[method-assign]
    _installed = True
    log.info("moto DynamoDB: API calls serialised; transactions roll back the items they "
             "touched (no table copies, stream shards kept); key queries read one partition; "
             "scans copy only the items that pass the filter")
