"""DynamoDB stream records: dropped a window after every reader has passed them, never before
every event source mapping on the stream has.

AWS keeps a stream's records 24 hours and then trims them (a read below the trim horizon answers
``TrimmedDataAccessException``). moto keeps them forever, in one list per table
(``StreamShard.items``, ~14 KB per record with both images), so a local stack under load grows
by every write it ever took. Here a shard's records are dropped once every reader passed them
at least the window ago: each trim notes the shard's *floor*, the lowest sequence number some
reader may still need, and drops what was below the floor noted a window ago. The floor is the
lowest of

- the position of every shard iterator issued within the window and not used yet (a
  GetShardIterator answer, or the NextShardIterator of a reader's last GetRecords: where that
  reader goes on); a used iterator no longer holds anything, its successor does. So a reader
  without a checkpoint (the transaction manager fetching an OnFailure batch, a probe, a test)
  has the window to come back; one that does not loses its place, as on AWS after 24 hours
  (its iterator still works for the 15 minutes of ``aws_server.expire_stream_iterators`` if the
  records are still there);
- for every event source mapping on the stream (moto's Lambda API stores them), the record after
  its checkpoint in the stream runtime's checkpoint file (``local_stack.stream_runtime
  .checkpoints``, the file `gameday up` gives both processes): a mapping that is jammed, disabled
  or whose runtime is down holds everything it has not finished. A shard the mapping has
  finished holds nothing; a mapping without a checkpoint for the shard (it has not finished a
  batch yet, or no checkpoint file is configured) holds the whole shard.

Sequence numbers are unchanged by a trim: moto numbers a record ``starting_sequence_number +
its index``, so the trim moves ``starting_sequence_number`` forward by the records dropped (the
shard's DescribeStream ``StartingSequenceNumber`` still shows the first one, as on AWS), and a
read below it answers ``TrimmedDataAccessException`` as AWS does (moto would fail an assert).
Trims run under ``moto_dynamodb_fixes.DYNAMODB_LOCK``, like every DynamoDB API call.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from local_stack.moto_dynamodb_fixes import DYNAMODB_LOCK, MotoHookNotFound

log = logging.getLogger("local_stack.retention.streams")

_PATCH_MARK = "_local_stack_stream_retention"
USED = "local_stack_used"  # set on a ShardIterator once GetRecords has used it
ISSUED = "local_stack_created"  # monotonic time a ShardIterator was issued (set by aws_server)
FIRST_SEQ = "local_stack_first_sequence_number"  # a trimmed shard's original first number
FLOORS = "local_stack_floors"  # (monotonic time, floor) noted at each trim, oldest first


def install() -> None:
    """Teach moto's stream shard about trims and its iterators about being used (idempotent);
    MotoHookNotFound when moto's code is not shaped as expected."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import ShardIterator

    if getattr(StreamShard.get, _PATCH_MARK, False):
        return
    for cls, name in ((StreamShard, "get"), (StreamShard, "to_json"), (ShardIterator, "get")):
        if not callable(getattr(cls, name, None)):
            raise MotoHookNotFound(f"{cls.__name__}.{name} not found")
    try:
        import inspect

        source = inspect.getsource(StreamShard.add) + inspect.getsource(StreamShard.get)
    except (OSError, TypeError) as exc:
        raise MotoHookNotFound(f"cannot read moto's StreamShard source: {exc}") from exc
    for needle in ("len(self.items) + self.starting_sequence_number",
                   "start -= self.starting_sequence_number"):
        if needle not in source:
            raise MotoHookNotFound(f"StreamShard no longer numbers records by {needle!r}: "
                                   "review local_stack/retention/streams.py")
    shard_get, shard_to_json, iterator_get = StreamShard.get, StreamShard.to_json, \
        ShardIterator.get

    def get(self: Any, start: int, quantity: int) -> Any:
        if start < self.starting_sequence_number:
            raise JsonRESTError(
                "TrimmedDataAccessException",
                f"The sequence number {start} is beyond the trim horizon of the shard "
                f"(records before {self.starting_sequence_number} were trimmed).")
        return shard_get(self, start, quantity)

    def to_json(self: Any) -> Any:
        answer = shard_to_json(self)
        first = getattr(self, FIRST_SEQ, None)
        if first is not None:
            answer["SequenceNumberRange"]["StartingSequenceNumber"] = str(first)
        return answer

    def used(self: Any, limit: int = 1000) -> Any:
        answer = iterator_get(self, limit)
        setattr(self, USED, True)  # its successor now marks the reader's place
        return answer

    setattr(get, _PATCH_MARK, True)
    StreamShard.get = get
    StreamShard.to_json = to_json
    ShardIterator.get = used


def read_checkpoints(path: Path | None) -> dict[str, dict[str, Any]]:
    """The stream runtime's checkpoint entries ("<mapping uuid>/<shard id>" → entry); empty when
    there is no file (yet) or it cannot be read."""
    if path is None:
        return {}
    try:
        shards = json.loads(path.read_text()).get("shards", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return shards if isinstance(shards, dict) else {}


def iterator_floors(iterators: Iterable[Any], now: float, window_s: float) -> dict[int, int]:
    """id(shard) → the lowest position of an iterator on it issued within the window and not
    used yet (one pass over every live iterator: there are tens of thousands under load)."""
    floors: dict[int, int] = {}
    for it in iterators:
        if getattr(it, USED, False) or now - getattr(it, ISSUED, now) > window_s:
            continue
        key, seq = id(it.stream_shard), int(it.sequence_number)
        if seq < floors.get(key, seq + 1):
            floors[key] = seq
    return floors


def shard_floor(table: Any, iterator_floor: int | None,
                checkpoints: dict[str, dict[str, Any]]) -> int:
    """The lowest sequence number of `table`'s shard some reader may still need (see module):
    `iterator_floor` from ``iterator_floors``, the mappings' checkpoints from `checkpoints`."""
    shard = table.stream_shard
    start = shard.starting_sequence_number
    floor = start + len(shard.items)
    if iterator_floor is not None:
        floor = min(floor, iterator_floor)
    for esm in list(table.lambda_event_source_mappings.values()):
        entry = checkpoints.get(f"{esm.uuid}/{shard.id}")
        if not entry or entry.get("stream") != esm.event_source_arn:
            return start  # no checkpoint: it may still read the whole shard
        if entry.get("finished"):
            continue
        after = entry.get("after")
        floor = min(floor, start if after is None else int(after) + 1)
    return floor


def trim(window_s: float, checkpoint_file: Path | None, now: float | None = None,
         backends: Iterable[Any] | None = None,
         streams_backends: Iterable[Any] | None = None) -> tuple[int, int]:
    """Drop, in every shard, the records every reader had passed `window_s` ago.

    Each call notes the shard's floor (see module) with the time; the records dropped are those
    below the floor noted `window_s` ago or more (and below today's floor, which a new mapping
    may have lowered). So a record is kept for the window after the last reader passed it: a
    batch a mapping gives up on after a long jam is still there for the OnFailure reader.
    `backends` / `streams_backends`: moto's DynamoDB / DynamoDB Streams backends (default:
    every account and region of the process). Returns (records dropped, records held)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    now = time.monotonic() if now is None else now
    checkpoints = read_checkpoints(checkpoint_file)
    dropped = held = 0
    with DYNAMODB_LOCK:
        by_shard = iterator_floors(
            (it for backend in (streams_backends if streams_backends is not None
                                else every_backend(dynamodbstreams_backends))
             for it in list(backend.shard_iterators.values())), now, window_s)
        for backend in backends if backends is not None else every_backend(dynamodb_backends):
            for table in list(backend.tables.values()):
                if table.stream_shard is not None:
                    floor = shard_floor(table, by_shard.get(id(table.stream_shard)),
                                        checkpoints)
                    dropped += _trim_shard(table, floor, window_s, now)
                    held += len(table.stream_shard.items)
    return dropped, held


def _trim_shard(table: Any, floor: int, window_s: float, now: float) -> int:
    """Note `floor` at `now`; drop what was below the floor noted `window_s` ago (and below
    `floor`). Returns how many records were dropped."""
    shard = table.stream_shard
    floors: deque[tuple[float, int]] = shard.__dict__.setdefault(FLOORS, deque())
    floors.append((now, floor))
    while len(floors) > 1 and floors[1][0] <= now - window_s:
        floors.popleft()  # keep the newest sample that is at least window_s old
    noted_at, noted = floors[0]
    if noted_at > now - window_s:
        return 0
    count = min(len(shard.items), max(0, min(noted, floor) - shard.starting_sequence_number))
    if count:
        if getattr(shard, FIRST_SEQ, None) is None:
            setattr(shard, FIRST_SEQ, shard.starting_sequence_number)
        del shard.items[:count]
        shard.starting_sequence_number += count
    return count


def every_backend(backend_dict: Any) -> Iterator[Any]:
    """Every region's backend of every account in one of moto's BackendDicts."""
    for account in list(backend_dict.values()):
        yield from list(account.values())
