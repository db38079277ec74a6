"""The rules of a Lambda event source mapping (ESM) for DynamoDB Streams, as pure functions.

Nothing here talks to AWS, sleeps or starts threads: the poller feeds in records, invocation
results and the clock, and gets back decisions. That keeps the rules unit-testable and in one
place. Why hand-written: no library implements Lambda's ESM semantics outside AWS (moto only
forwards records to a Docker invocation, with none of these rules).

The rules, as AWS documents them (Lambda developer guide: "Process DynamoDB records with
Lambda", "Retain discarded records for a DynamoDB event source", "Configuring partial batch
response with DynamoDB and Lambda", and the DynamoDB ESM parameter table):

* Records of a shard are processed in order. If the function returns an error, the whole batch
  is retried and the shard does not advance ("the event source mapping pauses processing for
  the affected shard until the error is resolved"): the stream jam.
* ``MaximumRetryAttempts`` (-1 = infinite, 0..10000): retries after a function error. When a
  batch has been retried that many times it is discarded: sent to the OnFailure destination
  (condition ``RetryAttemptsExhausted``) when one is configured, dropped otherwise, and the shard
  moves on. Throttles and other errors where the batch did not reach the function do not count.
* ``MaximumRecordAgeInSeconds`` (-1 = infinite; AWS accepts 60..604800): records older than this
  are discarded before an invocation (condition ``RecordAgeExceeded``), whether the batch was
  failing or throttled.
* ``BisectBatchOnFunctionError``: a failing batch is split in two halves that are retried in
  order; "splitting batches doesn't consume the retry quota", so a poison record ends up alone
  in a batch of one, whose retries then count.
* ``FunctionResponseTypes=[ReportBatchItemFailures]``: the function may answer
  ``{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}``. An empty or null list,
  or an empty/null response, is complete success. A null or empty ``itemIdentifier``, or one that
  names no record of the batch, makes the whole batch a failure. Otherwise the checkpoint is set
  before the lowest failed sequence number and the records from there are retried (a retry).
  With bisect on as well, "the batch is bisected at the returned sequence number and Lambda
  retries only the remaining records": that split does not consume retry quota (when it makes
  no progress, i.e. the first record failed, the usual bisect-in-halves applies).
* ``ParallelizationFactor`` (1..10): up to N batches of one shard in flight at once, records of
  one partition key always in the same lane, so per-key order holds.
* ``BatchSize`` / ``MaximumBatchingWindowInSeconds``: invoke when the batch is full, or when
  the window (which starts when the previous invocation of that lane completed) has elapsed and
  at least one record is waiting; window 0 means invoke with whatever is there. The payload of
  a synchronous invocation is capped at 6 MB.

Local choices that AWS does not document, kept here so they are visible and testable: the
retry delay after a function error and after a throttle (exponential, capped).
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import uuid
import zlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

INVOKE_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EsmSettings:
    """The DynamoDB-relevant settings of one event source mapping, with AWS's defaults."""

    batch_size: int = 100
    max_batching_window_s: float = 0.0
    max_retry_attempts: int = -1
    max_record_age_s: int = -1
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    parallelization_factor: int = 1
    on_failure_arn: str | None = None
    starting_position: str = "TRIM_HORIZON"
    metrics: tuple[str, ...] = ()  # MetricsConfig.Metrics (["EventCount"] turns the ESM
    # metrics on, esm_metrics)

    @classmethod
    def from_api(cls, esm: Mapping[str, Any]) -> EsmSettings:
        """Build from a GetEventSourceMapping/ListEventSourceMappings item (None = default)."""

        def pick(key: str, default: Any) -> Any:
            value = esm.get(key)
            return default if value is None else value

        destination = ((esm.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        factor = int(pick("ParallelizationFactor", 1))
        return cls(
            batch_size=max(1, int(pick("BatchSize", 100))),
            max_batching_window_s=float(pick("MaximumBatchingWindowInSeconds", 0)),
            max_retry_attempts=int(pick("MaximumRetryAttempts", -1)),
            max_record_age_s=int(pick("MaximumRecordAgeInSeconds", -1)),
            bisect_on_error=bool(pick("BisectBatchOnFunctionError", False)),
            report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES
            in (esm.get("FunctionResponseTypes") or []),
            parallelization_factor=min(10, max(1, factor)),
            on_failure_arn=destination or None,
            starting_position=str(pick("StartingPosition", "TRIM_HORIZON")),
            metrics=tuple((esm.get("MetricsConfig") or {}).get("Metrics") or ()),
        )


# --------------------------------------------------------------------------------------------
# Records and batches
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamRecord:
    """One stream record: ordering/aging facts plus the Lambda-shaped record delivered."""

    seq: int  # SequenceNumber as an integer (DynamoDB sequence numbers are decimal strings)
    created_at: float  # ApproximateCreationDateTime, epoch seconds
    partition_key: str  # canonical text of the item's partition key, for lanes
    payload: Mapping[str, Any] = field(compare=False, repr=False)  # the Lambda event record
    size: int = 0  # bytes of the record in the invocation payload

    @property
    def seq_str(self) -> str:
        return str(self.seq)


@dataclass(frozen=True)
class PendingBatch:
    """A batch waiting for (another) invocation."""

    records: tuple[StreamRecord, ...]
    retries: int = 0  # retries consumed against MaximumRetryAttempts
    invocations: int = 0  # invocations that included these records (approximateInvokeCount)
    last_error: str | None = None  # functionError of the last invocation ("Unhandled"/None)

    def __post_init__(self) -> None:
        if not self.records:
            raise ValueError("a batch needs at least one record")

    @property
    def first(self) -> StreamRecord:
        return self.records[0]

    @property
    def last(self) -> StreamRecord:
        return self.records[-1]


def lane_for(partition_key: str, factor: int) -> int:
    """Lane of a partition key: stable across processes (crc32), so per-key order holds."""
    if factor <= 1:
        return 0
    return zlib.crc32(partition_key.encode("utf-8")) % factor


def batch_ready(
    waiting: int, batch_size: int, window_s: float, since_window_start_s: float
) -> bool:
    """Invoke now? Full batch, or window elapsed with something waiting (window 0: at once)."""
    if waiting <= 0:
        return False
    if waiting >= batch_size:
        return True
    return since_window_start_s >= window_s


def take_batch(
    waiting: deque[StreamRecord], batch_size: int,
    payload_limit: int = INVOKE_PAYLOAD_LIMIT_BYTES,
) -> tuple[StreamRecord, ...]:
    """Pop the next batch off the front of `waiting`: up to batch_size records and the payload
    limit (a single record over the limit still goes alone: it is the function's problem)."""
    taken: list[StreamRecord] = []
    size = 64  # {"Records": []}
    while waiting and len(taken) < batch_size:
        nxt = waiting[0]
        if taken and size + nxt.size + 1 > payload_limit:
            break
        taken.append(waiting.popleft())
        size += nxt.size + 1
    return tuple(taken)


def split_expired(
    batch: PendingBatch, max_record_age_s: int, now: float
) -> tuple[tuple[StreamRecord, ...], PendingBatch | None]:
    """(expired prefix, what is left to invoke). -1 = records never age out here."""
    if max_record_age_s < 0:
        return (), batch
    n = 0
    for record in batch.records:
        if now - record.created_at > max_record_age_s:
            n += 1
        else:
            break
    if n == 0:
        return (), batch
    rest = batch.records[n:]
    return batch.records[:n], (replace(batch, records=rest) if rest else None)


# --------------------------------------------------------------------------------------------
# Invocation results
# --------------------------------------------------------------------------------------------
class ResultKind(enum.Enum):
    SUCCESS = "success"
    FUNCTION_ERROR = "function_error"  # handler raised, timed out, crashed, bad response
    PARTIAL = "partial"  # ReportBatchItemFailures named at least one record


@dataclass(frozen=True)
class InvocationResult:
    kind: ResultKind
    first_failed_index: int = 0  # PARTIAL only: index of the lowest failed sequence number
    reason: str = ""


def classify_response(
    response: Any, records: Sequence[StreamRecord], report_batch_item_failures: bool
) -> InvocationResult:
    """Interpret what a handler returned (it did not raise)."""
    if not report_batch_item_failures:
        return InvocationResult(ResultKind.SUCCESS)
    if not isinstance(response, Mapping):
        # null / empty EventResponse is success; anything else carries no failures either
        return InvocationResult(ResultKind.SUCCESS)
    failures = response.get("batchItemFailures")
    if failures is None or (isinstance(failures, list) and not failures):
        return InvocationResult(ResultKind.SUCCESS)
    if not isinstance(failures, list):
        return InvocationResult(ResultKind.FUNCTION_ERROR, reason="batchItemFailures not a list")
    index = {record.seq_str: i for i, record in enumerate(records)}
    lowest: int | None = None
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(ident, str) or not ident:
            return InvocationResult(
                ResultKind.FUNCTION_ERROR, reason=f"invalid batch item failure {item!r}"
            )
        if ident not in index:
            return InvocationResult(
                ResultKind.FUNCTION_ERROR,
                reason=f"itemIdentifier {ident!r} is not a sequence number of this batch",
            )
        lowest = index[ident] if lowest is None else min(lowest, index[ident])
    assert lowest is not None
    return InvocationResult(ResultKind.PARTIAL, first_failed_index=lowest)


# --------------------------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FailedBatch:
    """Records that leave the shard without success (to the OnFailure destination, if any)."""

    records: tuple[StreamRecord, ...]
    condition: str  # RetryAttemptsExhausted | RecordAgeExceeded
    invocations: int  # approximateInvokeCount
    function_error: str | None = None  # "Unhandled" when the last invocation raised


@dataclass(frozen=True)
class Decision:
    """What to do after one invocation of a batch."""

    completed: tuple[StreamRecord, ...] = ()  # succeeded: may be checkpointed
    retry: tuple[PendingBatch, ...] = ()  # next, in this order, before any new batch
    failed: FailedBatch | None = None  # give up on these and move on
    counted_retry: bool = False  # did this consume retry quota


def decide(batch: PendingBatch, result: InvocationResult, settings: EsmSettings) -> Decision:
    """Apply the ESM rules to the result of invoking `batch` once."""
    invoked = batch.invocations + 1
    if result.kind is ResultKind.SUCCESS:
        return Decision(completed=batch.records)

    if result.kind is ResultKind.PARTIAL and result.first_failed_index > 0:
        done = batch.records[: result.first_failed_index]
        rest = batch.records[result.first_failed_index:]
        if settings.bisect_on_error:
            # bisected at the returned sequence number: a split, no retry quota consumed
            nxt = PendingBatch(rest, retries=batch.retries, invocations=invoked)
            return Decision(completed=done, retry=(nxt,))
        return _retry_or_give_up(
            PendingBatch(rest, retries=batch.retries, invocations=invoked),
            settings, completed=done, function_error=None,
        )

    function_error = "Unhandled" if result.kind is ResultKind.FUNCTION_ERROR else None
    if settings.bisect_on_error and len(batch.records) > 1:
        mid = len(batch.records) // 2
        halves = (
            PendingBatch(batch.records[:mid], retries=batch.retries, invocations=invoked,
                         last_error=function_error),
            PendingBatch(batch.records[mid:], retries=batch.retries, invocations=invoked,
                         last_error=function_error),
        )
        return Decision(retry=halves)
    return _retry_or_give_up(
        replace(batch, invocations=invoked, last_error=function_error),
        settings, completed=(), function_error=function_error,
    )


def _retry_or_give_up(
    batch: PendingBatch, settings: EsmSettings, completed: tuple[StreamRecord, ...],
    function_error: str | None,
) -> Decision:
    retries = batch.retries + 1
    if settings.max_retry_attempts >= 0 and retries > settings.max_retry_attempts:
        failed = FailedBatch(batch.records, RETRY_ATTEMPTS_EXHAUSTED, batch.invocations,
                             function_error)
        return Decision(completed=completed, failed=failed, counted_retry=True)
    nxt = replace(batch, retries=retries, last_error=function_error)
    return Decision(completed=completed, retry=(nxt,), counted_retry=True)


def expired_failure(records: tuple[StreamRecord, ...], batch: PendingBatch) -> FailedBatch:
    """The FailedBatch for records discarded by MaximumRecordAgeInSeconds."""
    return FailedBatch(records, RECORD_AGE_EXCEEDED, batch.invocations, batch.last_error)


def backoff_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Exponential delay before attempt number `attempt` (1 = first retry), capped."""
    if attempt <= 0:
        return 0.0
    return min(cap_s, base_s * (2 ** (attempt - 1)))


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------
class CheckpointTracker:
    """Which records of a shard are done, in read order.

    ``checkpoint`` is the highest sequence number such that it and every record read before it
    are done (succeeded, or gave up via OnFailure/discard): the shard's position, which only
    moves when the oldest outstanding record finishes. With a parallelization factor > 1,
    records after it may already be done; after a restart they are delivered again
    (at-least-once, as on AWS).
    """

    def __init__(self, checkpoint: int | None = None) -> None:
        self.checkpoint = checkpoint
        self._order: deque[StreamRecord] = deque()
        self._done: set[int] = set()
        self._outstanding: dict[int, StreamRecord] = {}

    def add(self, record: StreamRecord) -> None:
        if record.seq in self._outstanding:
            return
        if self.checkpoint is not None and record.seq <= self.checkpoint:
            return
        self._order.append(record)
        self._outstanding[record.seq] = record

    def complete(self, records: Iterable[StreamRecord]) -> None:
        for record in records:
            if record.seq in self._outstanding:
                del self._outstanding[record.seq]
                self._done.add(record.seq)
        while self._order and self._order[0].seq in self._done:
            head = self._order.popleft()
            self._done.discard(head.seq)
            self.checkpoint = head.seq

    def oldest_outstanding(self) -> StreamRecord | None:
        return self._order[0] if self._order else None

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)


# --------------------------------------------------------------------------------------------
# Shapes AWS defines
# --------------------------------------------------------------------------------------------
def iso_utc(epoch_s: float, millis: bool = True) -> str:
    t = _dt.datetime.fromtimestamp(epoch_s, _dt.UTC)
    if millis:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def on_failure_record(
    failed: FailedBatch, *, function_arn: str, stream_arn: str, shard_id: str, now: float,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The invocation record Lambda sends to an OnFailure destination for a DynamoDB batch.

    ``responseContext`` is present when the records reached the function at least once; it
    says ``functionError: Unhandled`` when the last invocation raised (a partial batch response
    is a successful invocation, so it has none).
    """
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": request_id or str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": failed.condition,
            "approximateInvokeCount": failed.invocations,
        },
        "version": "1.0",
        "timestamp": iso_utc(now),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": failed.records[0].seq_str,
            "endSequenceNumber": failed.records[-1].seq_str,
            "approximateArrivalOfFirstRecord": iso_utc(failed.records[0].created_at, False),
            "approximateArrivalOfLastRecord": iso_utc(failed.records[-1].created_at, False),
            "batchSize": len(failed.records),
            "streamArn": stream_arn,
        },
    }
    if failed.invocations > 0:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if failed.function_error:
            response["functionError"] = failed.function_error
        record["responseContext"] = response
    return record


def lambda_event(records: Sequence[StreamRecord]) -> dict[str, Any]:
    """The event a DynamoDB Streams ESM invokes the function with."""
    return {"Records": [dict(r.payload) for r in records]}


def payload_size(payload: Mapping[str, Any]) -> int:
    return len(json.dumps(payload, separators=(",", ":"), default=str))
