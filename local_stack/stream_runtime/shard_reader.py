"""Reading a DynamoDB stream the way a Lambda event source mapping does: shards and their
lineage, one iterator per shard, and records turned into the shape Lambda delivers.

* ``list_shards`` pages through DescribeStream.
* ``plan_shards`` (pure) says which shards may be read now and from where: a child shard starts
  only when its parent is finished (closed and fully processed), so records of one item stay in
  order across a shard split; at the first look with StartingPosition LATEST only the open
  shards are read (from their end), with TRIM_HORIZON every shard from its start, parents first.
  Shards found later (children) start at TRIM_HORIZON.
* ``ShardReader`` holds one shard's iterator: GetRecords, re-seek by sequence number (after a
  restart or when the iterator expired), end-of-shard detection.
* ``to_stream_record`` (pure) turns a GetRecords record (as boto3 parses it) into the
  ``Records[]`` item Lambda puts in the event: ``eventSourceARN`` added, ``awsRegion`` from the
  stream ARN, ``ApproximateCreationDateTime`` as epoch seconds (rounded down, as DynamoDB
  documents it), binary attribute values base64 again.

What moto's stream gives (checked against moto 5.2): one shard per table, never closed (the
local emulator trims it: ``local_stack.retention.streams``, TrimmedDataAccessException below
the trim horizon), sequence numbers from 1100000000017454423009 up by one, eventVersion "1.0",
awsRegion always "us-east-1", no eventSourceARN. The lineage code is exercised by unit tests
with AWS-shaped shard lists.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from local_stack.stream_runtime.semantics import StreamRecord, payload_size

log = logging.getLogger(__name__)

GET_RECORDS_LIMIT = 1000  # DynamoDB Streams' maximum per GetRecords


# --------------------------------------------------------------------------------------------
# Shards and lineage
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShardInfo:
    shard_id: str
    parent_id: str | None
    starting_seq: int | None
    ending_seq: int | None  # set once the shard is closed

    @property
    def closed(self) -> bool:
        return self.ending_seq is not None

    @classmethod
    def from_api(cls, shard: Mapping[str, Any]) -> ShardInfo:
        rng = shard.get("SequenceNumberRange") or {}
        start = rng.get("StartingSequenceNumber")
        end = rng.get("EndingSequenceNumber")
        return cls(
            shard_id=shard["ShardId"],
            parent_id=shard.get("ParentShardId"),
            starting_seq=int(start) if start else None,
            ending_seq=int(end) if end else None,
        )


@dataclass(frozen=True)
class StreamDescription:
    stream_arn: str
    status: str
    view_type: str | None
    hash_key: str | None
    shards: tuple[ShardInfo, ...]


def describe_stream(streams: Any, stream_arn: str) -> StreamDescription:
    """DescribeStream, all pages."""
    shards: list[ShardInfo] = []
    kwargs: dict[str, Any] = {"StreamArn": stream_arn}
    desc: dict[str, Any] = {}
    while True:
        desc = streams.describe_stream(**kwargs)["StreamDescription"]
        shards += [ShardInfo.from_api(s) for s in desc.get("Shards", [])]
        last = desc.get("LastEvaluatedShardId")
        if not last:
            break
        kwargs["ExclusiveStartShardId"] = last
    hash_key = next(
        (k["AttributeName"] for k in desc.get("KeySchema", []) if k.get("KeyType") == "HASH"),
        None,
    )
    return StreamDescription(
        stream_arn=stream_arn,
        status=desc.get("StreamStatus", "ENABLED"),
        view_type=desc.get("StreamViewType"),
        hash_key=hash_key,
        shards=tuple(shards),
    )


@dataclass(frozen=True)
class ShardStart:
    """Where to begin a shard: an iterator type, and a sequence number for the *_SEQUENCE_* ones."""

    iterator_type: str  # TRIM_HORIZON | LATEST | AFTER_SEQUENCE_NUMBER | AT_SEQUENCE_NUMBER
    seq: int | None = None


def plan_shards(
    shards: Iterable[ShardInfo],
    *,
    starting_position: str,
    first_look: bool,
    finished: set[str],
    running: set[str],
    checkpoints: Mapping[str, int],
) -> tuple[dict[str, ShardStart], set[str]]:
    """Decide which shards to start now.

    Returns (shard id → where to start, shard ids to mark finished without reading). A shard
    with a checkpoint resumes after it. A shard whose parent is known and not finished waits.
    """
    by_id = {s.shard_id: s for s in shards}
    start: dict[str, ShardStart] = {}
    skip: set[str] = set()
    latest_first = first_look and starting_position == "LATEST"
    for shard in by_id.values():
        sid = shard.shard_id
        if sid in finished or sid in running:
            continue
        if sid in checkpoints:
            if _parent_pending(shard, by_id, finished):
                continue
            start[sid] = ShardStart("AFTER_SEQUENCE_NUMBER", checkpoints[sid])
            continue
        if latest_first:
            # LATEST: only the newest data; closed shards hold nothing newer than the open ones
            if shard.closed:
                skip.add(sid)
            else:
                start[sid] = ShardStart("LATEST")
            continue
        if _parent_pending(shard, by_id, finished | skip):
            continue
        start[sid] = ShardStart("TRIM_HORIZON")
    return start, skip


def _parent_pending(shard: ShardInfo, by_id: Mapping[str, ShardInfo], finished: set[str]) -> bool:
    parent = shard.parent_id
    return bool(parent) and parent in by_id and parent not in finished


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------
def stream_region(stream_arn: str) -> str:
    parts = stream_arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"


def _epoch(value: Any) -> float:
    if value is None:
        return 0.0
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    return float(value)


def _attr_json(value: Any) -> Any:
    """A DynamoDB AttributeValue (as boto3's low-level client parses it) back to its JSON."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            if key == "B" and isinstance(inner, (bytes, bytearray)):
                out[key] = base64.b64encode(inner).decode("ascii")
            elif key == "BS" and isinstance(inner, list):
                out[key] = [base64.b64encode(b).decode("ascii") if isinstance(b, (bytes, bytearray))
                            else b for b in inner]
            elif key in ("M",) and isinstance(inner, dict):
                out[key] = {k: _attr_json(v) for k, v in inner.items()}
            elif key == "L" and isinstance(inner, list):
                out[key] = [_attr_json(v) for v in inner]
            else:
                out[key] = inner
        return out
    return value


def _image_json(image: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _attr_json(value) for name, value in image.items()}


def partition_key_text(keys: Mapping[str, Any], hash_key: str | None) -> str:
    """Canonical text of the item's partition key (all keys when the schema is unknown)."""
    if hash_key and hash_key in keys:
        return f"{hash_key}={_canonical(keys[hash_key])}"
    return ";".join(f"{k}={_canonical(keys[k])}" for k in sorted(keys))


def _canonical(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_canonical(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def to_stream_record(
    raw: Mapping[str, Any], stream_arn: str, hash_key: str | None = None
) -> StreamRecord:
    """GetRecords record → StreamRecord carrying the Lambda event record."""
    ddb_in = raw.get("dynamodb") or {}
    created = _epoch(ddb_in.get("ApproximateCreationDateTime"))
    ddb: dict[str, Any] = {}
    if "ApproximateCreationDateTime" in ddb_in:
        ddb["ApproximateCreationDateTime"] = math.floor(created)
    for key in ("Keys", "NewImage", "OldImage"):
        if key in ddb_in:
            ddb[key] = _image_json(ddb_in[key])
    for key in ("SequenceNumber", "SizeBytes", "StreamViewType"):
        if key in ddb_in:
            ddb[key] = ddb_in[key]
    payload: dict[str, Any] = {
        "eventID": raw.get("eventID"),
        "eventName": raw.get("eventName"),
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": raw.get("eventSource", "aws:dynamodb"),
        "awsRegion": stream_region(stream_arn),
        "dynamodb": ddb,
        "eventSourceARN": stream_arn,
    }
    if raw.get("userIdentity"):
        payload["userIdentity"] = raw["userIdentity"]
    return StreamRecord(
        seq=int(ddb_in["SequenceNumber"]),
        created_at=created,
        partition_key=partition_key_text(ddb_in.get("Keys") or {}, hash_key),
        payload=payload,
        size=payload_size(payload),
    )


# --------------------------------------------------------------------------------------------
# One shard's iterator
# --------------------------------------------------------------------------------------------
class ShardGone(Exception):
    """The stream or shard no longer exists (table deleted, stream disabled)."""


class ShardReader:
    """GetRecords on one shard, from a ShardStart, re-seekable by sequence number."""

    def __init__(
        self, streams: Any, stream_arn: str, shard_id: str, start: ShardStart,
        hash_key: str | None = None,
    ) -> None:
        self._streams = streams
        self.stream_arn = stream_arn
        self.shard_id = shard_id
        self.hash_key = hash_key
        self._start = start
        self._iterator: str | None = None
        self.last_read_seq: int | None = None
        self.ended = False  # the shard is closed and everything in it was read

    def _acquire(self, start: ShardStart) -> None:
        kwargs: dict[str, Any] = {
            "StreamArn": self.stream_arn,
            "ShardId": self.shard_id,
            "ShardIteratorType": start.iterator_type,
        }
        if start.seq is not None:
            kwargs["SequenceNumber"] = str(start.seq)
        try:
            self._iterator = self._streams.get_shard_iterator(**kwargs)["ShardIterator"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise ShardGone(str(exc)) from exc
            if code == "TrimmedDataAccessException":
                log.warning("shard %s: position %s was trimmed; reading from TRIM_HORIZON "
                            "(records lost, as on AWS)", self.shard_id, start)
                self._acquire(ShardStart("TRIM_HORIZON"))
                return
            raise
        self.ended = False

    @property
    def positioned(self) -> bool:
        """True once the shard iterator is held (for LATEST: the starting point is fixed)."""
        return self._iterator is not None or self.ended

    def position(self) -> None:
        """Take the iterator now (LATEST then means 'now', not 'at the first poll')."""
        if self._iterator is None and not self.ended:
            self._acquire(self._start)

    def seek_at(self, seq: int) -> None:
        """Next read starts at record `seq` (used to re-deliver unfinished records)."""
        self._start = ShardStart("AT_SEQUENCE_NUMBER", seq)
        self._iterator = None
        self.last_read_seq = None

    def read(self, limit: int = GET_RECORDS_LIMIT) -> list[StreamRecord]:
        """One GetRecords call. Sets `ended` when the shard is closed and fully read."""
        if self.ended:
            return []
        if self._iterator is None:
            self._acquire(self._start)
        try:
            resp = self._streams.get_records(
                ShardIterator=self._iterator, Limit=max(1, min(GET_RECORDS_LIMIT, limit))
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ExpiredIteratorException":
                log.info("shard %s: iterator expired, re-acquiring", self.shard_id)
                self._iterator = None
                if self.last_read_seq is not None:
                    self._start = ShardStart("AFTER_SEQUENCE_NUMBER", self.last_read_seq)
                return []
            if code == "ResourceNotFoundException":
                raise ShardGone(str(exc)) from exc
            if code == "TrimmedDataAccessException":
                log.warning("shard %s: data trimmed under the iterator; from TRIM_HORIZON",
                            self.shard_id)
                self._iterator = None
                self._start = ShardStart("TRIM_HORIZON")
                return []
            raise
        records = [to_stream_record(r, self.stream_arn, self.hash_key)
                   for r in resp.get("Records", [])]
        if records:
            self.last_read_seq = records[-1].seq
        nxt = resp.get("NextShardIterator")
        if nxt is None:
            self.ended = True
        self._iterator = nxt
        return records
