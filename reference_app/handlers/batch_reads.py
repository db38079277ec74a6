"""The rows one invocation's records will read, fetched up front with one BatchGetItem.

Why: each saga step reads the row it depends on (the order, the cart, the stock) consistently
before it writes. Done per record, a batch of n records paid n sequential round trips before
its writes; profiled under the checkout bench that was a third of the saga's DynamoDB calls
(inventory: GetItem order + BatchGetItem stock + TransactWriteItems per order; payment:
GetItem + UpdateItem; completion: GetItem cart + TransactWriteItems), and one lane per shard
runs its calls one after another, so the saga drained at the rate of that latency. Reading
what the whole batch needs in one consistent BatchGetItem (up to 100 keys a request, several
tables at once) leaves one write per record. Plain boto3 has no such cache; it is a dozen
lines, so it is written here.

Freshness, and why every user tolerates it:

- The reads are consistent and start after the batch was read from the stream, so a row is
  at least as new as the records of the batch.
- A prefetched row is handed out once (`take`): a second read of the same key in the same
  invocation (the same order twice, an OCC retry) goes to DynamoDB. Rows several records
  share (a product's stock) are kept for all of them (`keep`) until the invocation writes
  them (`forget`). A row from the batch can therefore be stale only by the writes of earlier
  records of this invocation, of the records of other keys it runs beside (run_batch's
  `concurrency`; records that write a common row run in order), and of concurrent writers, as
  any read can. The handlers only
  act on such a row where a stale answer is harmless: a status that has moved on never
  comes back (AUTHORIZING -> PENDING -> RESERVED -> PAID -> COMPLETED or CANCELLED), and
  every write keeps its condition (the order's status, the cart's version, the stock), so a
  stale "go ahead" ends in the same conditional failure a concurrent change would cause.
  Each use says which case it is.
- A failed prefetch (throttled, emulator away) is logged and forgotten: every read then goes
  to DynamoDB as before, and its error decides the record.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from reference_app.ddb import batch_get

log = logging.getLogger(__name__)

MAX_KEYS_PER_REQUEST = 100  # BatchGetItem's limit
UNPROCESSED_ATTEMPTS = 3

Key = dict[str, Any]  # a key in wire format, e.g. {"OrderId": {"S": "o-1"}}
_Ident = tuple[str, tuple[tuple[str, str], ...]]


def _ident(table: str, key: Key) -> _Ident:
    return table, tuple(sorted((name, json.dumps(value, sort_keys=True))
                               for name, value in key.items()))


class BatchReads:
    """Consistent rows of one invocation, each handed out once."""

    def __init__(self) -> None:
        self._rows: dict[_Ident, dict[str, Any] | None] = {}
        self.requests = 0

    def __len__(self) -> int:
        return len(self._rows)

    def load(self, client: Any, wanted: Iterable[tuple[str, Key]]) -> None:
        """Read `wanted` ((table, key) pairs) with consistent BatchGetItem requests. A key
        whose row does not exist is remembered as absent; a key left unprocessed after a few
        attempts is not remembered (its reader goes to DynamoDB)."""
        pending: dict[_Ident, tuple[str, Key]] = {}
        for table, key in wanted:
            pending.setdefault(_ident(table, key), (table, key))
        items = list(pending.values())
        for start in range(0, len(items), MAX_KEYS_PER_REQUEST):
            self._load_chunk(client, items[start:start + MAX_KEYS_PER_REQUEST])

    def _load_chunk(self, client: Any, chunk: list[tuple[str, Key]]) -> None:
        names: dict[str, list[str]] = {}
        request: dict[str, Any] = {}
        for table, key in chunk:
            names.setdefault(table, sorted(key))
            request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        asked = {_ident(table, key) for table, key in chunk}
        answered, left, made = batch_get(client, request, UNPROCESSED_ATTEMPTS,
                                         lambda attempt: 0.05 * (attempt + 1))
        self.requests += made
        found: dict[_Ident, dict[str, Any]] = {}
        for table, rows in answered.items():
            for row in rows:
                key = {name: row[name] for name in names.get(table, ()) if name in row}
                found[_ident(table, key)] = row
        unprocessed = {_ident(table, key) for table, spec in left.items()
                       for key in spec.get("Keys", [])}
        for ident in asked - unprocessed:
            self._rows[ident] = found.get(ident)

    def take(self, table: str, key: Key, keep: bool = False) -> tuple[bool, dict[str, Any] | None]:
        """(True, row or None when absent) the first time a prefetched key is asked for;
        (False, None) when it was not prefetched or was handed out already. `keep` leaves
        the row for later readers too, until `forget`."""
        ident = _ident(table, key)
        if ident not in self._rows:
            return False, None
        return True, self._rows[ident] if keep else self._rows.pop(ident)

    def forget(self, table: str, keys: Iterable[Key]) -> None:
        """Drop rows this invocation has just written: their next reader reads them again."""
        for key in keys:
            self._rows.pop(_ident(table, key), None)


_current: ContextVar[BatchReads | None] = ContextVar("shop_batch_reads", default=None)


def current() -> BatchReads | None:
    """The running invocation's prefetched rows (None outside `scope`)."""
    return _current.get()


@contextlib.contextmanager
def scope(client: Any, wanted: list[tuple[str, Key]]) -> Iterator[BatchReads]:
    """Prefetch `wanted` for the invocation that runs inside this block."""
    reads = BatchReads()
    if wanted:
        try:
            reads.load(client, wanted)
        except Exception as exc:  # an optimisation only: the records read for themselves
            log.warning("prefetch of %d row(s) failed, records read one by one: %s",
                        len(wanted), exc)
    token = _current.set(reads)
    try:
        yield reads
    finally:
        _current.reset(token)


def consistent_item(client: Any, table: str, key: Key) -> dict[str, Any] | None:
    """The row (wire format) at `key`, read consistently: from the invocation's prefetch the
    first time, else with GetItem."""
    reads = _current.get()
    if reads is not None:
        found, row = reads.take(table, key)
        if found:
            return row
    answer = client.get_item(TableName=table, Key=key, ConsistentRead=True)
    item: dict[str, Any] | None = answer.get("Item")
    return item


def take(table: str, key: Key) -> tuple[bool, dict[str, Any] | None]:
    """`BatchReads.take` on the running invocation's rows ((False, None) outside `scope`)."""
    reads = _current.get()
    return reads.take(table, key) if reads is not None else (False, None)


def forget(table: str, keys: Iterable[Key]) -> None:
    """`BatchReads.forget` on the running invocation's rows (nothing outside `scope`)."""
    reads = _current.get()
    if reads is not None:
        reads.forget(table, keys)


def take_prefetched(table: str, keys: list[Key], keep: bool = False
                    ) -> tuple[list[dict[str, Any]], list[Key]]:
    """The prefetched rows among `keys` (absent rows left out) and the keys still to read;
    `keep`: rows shared by several records (see `BatchReads.take`)."""
    reads = _current.get()
    rows: list[dict[str, Any]] = []
    missing: list[Key] = []
    for key in keys:
        found, row = reads.take(table, key, keep) if reads is not None else (False, None)
        if not found:
            missing.append(key)
        elif row is not None:
            rows.append(row)
    return rows, missing
