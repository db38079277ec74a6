"""What every stream handler shares: settings and AWS clients created once per process (lazily),
DynamoDB Streams record parsing, correlation-ID logging, the X-Ray segment joined to the order's
trace, the partial batch response, and the fault hook.

Business metrics (`count_metric`) are summed during an invocation and sent with one
PutMetricData (namespace `Shop`, 1-second resolution) when the batch ends, success or not:
nothing runs between invocations on Lambda, so no background publisher is used. Switched off by
SHOP_CLOUDWATCH_ENABLED=false; a failed publish is logged, never fails the batch.

Batch semantics (`run_batch`): records are processed in stream order; the first record that
raises stops the batch, and is logged as one structured JSON line with its correlation ID
(`failure_log`: what the stuck-correlation-ID detector counts). If nothing was processed yet
the exception is re-raised (the whole batch is retried and the invocation counts as a Lambda
*Error*, which is what the jam alarm watches); otherwise the failed record and every later one
are returned as `batchItemFailures`, so an event source mapping with `ReportBatchItemFailures`
checkpoints the processed prefix and retries from the failed record. Every handler is
idempotent, so retried records are harmless.

With `concurrency` > 1 (the saga's handlers: `record_concurrency()`, SHOP_HANDLER_CONCURRENCY,
default 10) the records of a batch are grouped by their item key
(the stream's partition key, e.g. one order; also by what else they write, `shares`: the
inventory's records of orders with a sku in common keep their order, so a release still
comes before the next reservation of that stock) and up to that many groups run at once on a
thread pool; a group runs its records in stream order and stops at its first failure, so no
record of a key ever runs before an earlier record of the same key, as with Lambda's
ParallelizationFactor. The answer is the same as in order: the earliest failed record decides
(re-raised if it is the batch's first, else it and every later record are batch item
failures); records of other keys after it may have run already, and run again when the stream
retries them (idempotent, as above). Why: each saga step waits on round trips (DynamoDB, the
payments capture); run one after another, a lane drained at the rate of that latency, not of
the machine (bench/README.md, "Checkout saga"). 1 keeps the strictly sequential path.

The rows a batch's records will read are read before the first record, in one consistent
BatchGetItem (`prefetch`, see `batch_reads`). A heartbeat record is acknowledged and counted
(`ConsumerHeartbeats`, the consumer's liveness for the silent-consumer alarms).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter

from reference_app.aws import client as aws_client_factory
from reference_app.cloudwatch import CONSUMER_HEARTBEATS
from reference_app.config import Settings
from reference_app.correlation import correlation_scope
from reference_app.ddb import from_item
from reference_app.fault_hooks import inject_lambda_fault
from reference_app.handlers import batch_reads
from reference_app.handlers.failure_log import log_failure
from reference_app.heartbeat import is_heartbeat

LOGGER_NAME = "reference_app.handlers"
log = logging.getLogger(LOGGER_NAME)
log.setLevel(os.environ.get("SHOP_HANDLER_LOG_LEVEL", "INFO").upper())

STREAM_RECORDS = Counter(
    "shop_stream_records_total", "Stream records handled by the Lambda-style handlers",
    ["function", "outcome"],
)
HEARTBEATS = Counter(
    "shop_stream_heartbeats_total", "Heartbeat records a stream handler acknowledged (about one "
    "a second while it consumes): the Prometheus side of the ConsumerHeartbeats metric",
    ["function"],
)

_lock = threading.RLock()  # aws() calls settings() while holding it
_settings: Settings | None = None
_clients: dict[str, Any] = {}
_reset_hooks: list[Callable[[], None]] = []
_metrics_lock = threading.Lock()
_pending_metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
METRIC_NAMESPACE = "Shop"


def settings() -> Settings:
    """The process's Settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        with _lock:
            if _settings is None:
                _settings = Settings.from_env()
    return _settings


def aws(service: str) -> Any:
    """A boto3 client for `service`, created on first use and reused by later invocations."""
    found = _clients.get(service)
    if found is None:
        with _lock:
            found = _clients.get(service)
            if found is None:
                found = aws_client_factory(service, settings())
                _clients[service] = found
    return found


def on_reset(hook: Callable[[], None]) -> Callable[[], None]:
    """Decorator: run `hook` in reset_process_state (for caches kept by handler modules)."""
    _reset_hooks.append(hook)
    return hook


def reset_process_state() -> None:
    """Forget cached settings and clients (a new 'cold start'); used by tests that change env."""
    global _settings
    with _lock:
        _settings = None
        _clients.clear()
    for hook in _reset_hooks:
        hook()


def env_int(name: str, default: int) -> int:
    """An integer env var (an unset or empty variable gives `default`)."""
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


CONCURRENCY_ENV = "SHOP_HANDLER_CONCURRENCY"
DEFAULT_CONCURRENCY = 10  # groups of a batch at once (BatchSize 100: local_stack/shop_deploy.py)
MAX_CONCURRENCY = 100


def record_concurrency() -> int:
    """How many partition keys of a batch the saga's handlers process at once
    (SHOP_HANDLER_CONCURRENCY, default 10; 1 = one record after another)."""
    raw = os.environ.get(CONCURRENCY_ENV, "").strip()
    if not raw:
        return DEFAULT_CONCURRENCY
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_CONCURRENCY:
        raise ValueError(f"{CONCURRENCY_ENV}={raw!r}: expected a whole number of records "
                         f"1..{MAX_CONCURRENCY}")
    return value


@dataclass(frozen=True)
class StreamRecord:
    """One DynamoDB Streams record with its images deserialised to plain Python."""

    event_id: str
    event_name: str
    sequence_number: str
    keys: dict[str, Any]
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    source_arn: str
    created_at: float | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def image(self) -> dict[str, Any]:
        """The new image, or the old one for a REMOVE."""
        return self.new or self.old or {}

    def old_value(self, name: str) -> Any:
        return (self.old or {}).get(name)

    def new_value(self, name: str) -> Any:
        return (self.new or {}).get(name)


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_record(raw: dict[str, Any]) -> StreamRecord:
    """A Lambda DynamoDB Streams record (wire-format images) as a StreamRecord."""
    ddb = raw.get("dynamodb") or {}
    return StreamRecord(
        event_id=str(raw.get("eventID", "")),
        event_name=str(raw.get("eventName", "")),
        sequence_number=str(ddb.get("SequenceNumber", "")),
        keys=from_item(ddb.get("Keys")) or {},
        old=from_item(ddb.get("OldImage")),
        new=from_item(ddb.get("NewImage")),
        source_arn=str(raw.get("eventSourceARN", "")),
        created_at=_epoch(ddb.get("ApproximateCreationDateTime")),
        raw=raw,
    )


class RecordLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Logger for one record: every line starts with `[<correlation id>]` and carries
    `correlation_id`, `function` and `sequence_number` as record attributes."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return f"[{extra.get('correlation_id', '-')}] {msg}", kwargs


@dataclass
class RecordContext:
    """What a record processor gets besides the record: its function name and logger."""

    function_name: str
    record: StreamRecord
    correlation_id: str
    log: RecordLog

    def rebind(self, correlation_id: str) -> None:
        """Use a correlation ID found while processing (e.g. read from the order)."""
        if correlation_id and correlation_id != self.correlation_id:
            self.correlation_id = correlation_id
            self.log = _record_log(self.function_name, self.record, correlation_id)


def _record_log(function_name: str, record: StreamRecord, correlation_id: str) -> RecordLog:
    return RecordLog(log, {"correlation_id": correlation_id, "function": function_name,
                           "sequence_number": record.sequence_number})


def default_correlation_id(record: StreamRecord) -> str:
    """The record's `CorrelationId` (new image, else old), else `order:<OrderId>`, else the
    stream event id."""
    for image in (record.new, record.old):
        if image and image.get("CorrelationId"):
            return str(image["CorrelationId"])
    order_id = record.image.get("OrderId")
    return f"order:{order_id}" if order_id else f"event:{record.event_id}"


@contextlib.contextmanager
def record_segment(function_name: str, record: StreamRecord) -> Iterator[None]:
    """Join the record's processing to the order's X-Ray trace (its stored `TraceHeader`) via
    `reference_app.tracing.handler_segment`. Best effort: a tracing failure never fails the
    record (an exception of the processing itself still propagates, recorded on the segment)."""
    header = record.image.get("TraceHeader")
    with contextlib.ExitStack() as stack:
        if header:
            try:
                from reference_app import tracing

                stack.enter_context(tracing.handler_segment(function_name, str(header)))
            except Exception as exc:  # tracing must never stop the saga
                log.debug("no X-Ray segment for %s: %s", function_name, exc)
        yield


def maybe_inject_fault(function_name: str, record: StreamRecord) -> None:
    """Fault hook run before each record: lambda-error / lambda-latency flags from SSM
    (reference_app.fault_hooks), matched against the record's NewImage."""
    inject_lambda_fault(function_name, settings(), record.raw)


def count_metric(name: str, value: float = 1.0, dimensions: dict[str, str] | None = None
                 ) -> None:
    """Add `value` to CloudWatch metric `name` (sent when the current batch ends)."""
    key = (name, tuple(sorted((dimensions or {}).items())))
    with _metrics_lock:
        _pending_metrics[key] = _pending_metrics.get(key, 0.0) + value


def flush_metrics() -> int:
    """Send the summed metrics with PutMetricData; returns the number of datums sent."""
    with _metrics_lock:
        pending = dict(_pending_metrics)
        _pending_metrics.clear()
    if not pending or os.environ.get("SHOP_CLOUDWATCH_ENABLED", "true").strip().lower() in {
            "0", "false", "no", "off"}:
        return 0
    now = time.time()
    data = [{"MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
             "Timestamp": now, "Value": value, "Unit": "Count", "StorageResolution": 1}
            for (name, dims), value in sorted(pending.items())]
    try:
        for start in range(0, len(data), 500):
            aws("cloudwatch").put_metric_data(Namespace=METRIC_NAMESPACE,
                                              MetricData=data[start:start + 500])
    except Exception as exc:  # metrics are best effort
        log.warning("PutMetricData of %d datum(s) failed: %s", len(data), exc)
        return 0
    return len(data)


Processor = Callable[[RecordContext], None]
# the rows a record's processing will read, as (table, wire-format key) pairs (batch_reads)
Prefetch = Callable[[StreamRecord], Iterable[tuple[str, batch_reads.Key]]]
# names of what a record's processing writes besides its own item (run_batch's `shares`)
Shares = Callable[[StreamRecord], Iterable[str]]


def run_batch(event: dict[str, Any], function_name: str, process: Processor,
              correlation_of: Callable[[StreamRecord], str] = default_correlation_id,
              prefetch: Prefetch | None = None, concurrency: int = 1,
              shares: Shares | None = None) -> dict[str, Any]:
    """Process `event["Records"]` in order; see the module docstring for failure semantics.
    `prefetch` names the rows each record will read: they are read for the whole batch in one
    consistent BatchGetItem before the first record (`batch_reads`). `concurrency` > 1 runs up
    to that many partition keys at once, each key's records in order (module docstring);
    `shares` names what else a record writes that others may too (inventory: its skus'
    stock): records naming a common resource also run in stream order."""
    raw_records = list(event.get("Records") or [])
    parsed = parse_batch(raw_records)
    try:
        with batch_reads.scope(aws("dynamodb") if prefetch else None,
                               prefetch_keys(parsed, prefetch) if prefetch else []):
            if concurrency > 1:
                return _run_by_key(raw_records, parsed, function_name, process,
                                   correlation_of, concurrency, shares)
            return _run_records(raw_records, parsed, function_name, process, correlation_of)
    finally:
        flush_metrics()


# a batch's record, parsed once (prefetch, grouping and processing all read it), or the
# error parsing it raised, raised again when the record's turn comes
Parsed = StreamRecord | Exception


def parse_batch(raw_records: list[dict[str, Any]]) -> list[Parsed]:
    """Each record parsed (`parse_record`), or the exception its parsing raised."""
    parsed: list[Parsed] = []
    for raw in raw_records:
        try:
            parsed.append(parse_record(raw))
        except Exception as exc:  # noqa: BLE001 - raised when the record's turn comes
            parsed.append(exc)
    return parsed


def prefetch_keys(parsed: list[Parsed], prefetch: Prefetch
                  ) -> list[tuple[str, batch_reads.Key]]:
    """What `prefetch` names for the records of a batch; a record it cannot read names
    nothing (it fails, or not, when its turn comes)."""
    wanted: list[tuple[str, batch_reads.Key]] = []
    for record in parsed:
        if isinstance(record, Exception):
            continue
        try:
            if not is_heartbeat(record.image):
                wanted.extend(prefetch(record))
        except Exception as exc:  # noqa: BLE001 - the record's own processing will report it
            log.debug("nothing prefetched for a record: %s", exc)
    return wanted


@dataclass
class _Failure:
    ctx: RecordContext
    exc: Exception


def _run_one(record: Parsed, function_name: str, process: Processor,
             correlation_of: Callable[[StreamRecord], str]) -> _Failure | None:
    """One record: fault hook, heartbeat or `process`, counted; its failure logged (the
    RecordFailed line) and returned. A record that could not be parsed raises."""
    if isinstance(record, Exception):
        raise record
    cid = correlation_of(record)
    ctx = RecordContext(function_name, record, cid, _record_log(function_name, record, cid))
    with correlation_scope(cid):
        try:
            with record_segment(function_name, record):
                maybe_inject_fault(function_name, record)
                ctx.log.debug("%s %s", record.event_name, record.keys)
                if is_heartbeat(record.image):
                    heartbeat_acknowledged(function_name)
                else:
                    process(ctx)
        except Exception as exc:
            STREAM_RECORDS.labels(function_name, "failed").inc()
            log_failure(function_name, ctx.correlation_id, record.sequence_number,
                        record.event_name, exc)
            return _Failure(ctx, exc)
    STREAM_RECORDS.labels(function_name, "ok").inc()
    return None


def _answer(raw_records: list[dict[str, Any]], index: int, failure: _Failure
            ) -> dict[str, Any]:
    """The batch's answer when record `index` is the earliest that failed: raise its error if
    it is the first record, else report it and every later one."""
    record, remaining = failure.ctx.record, len(raw_records) - index
    if index == 0:
        failure.ctx.log.error("record %s failed (%s); whole batch of %d fails",
                              record.sequence_number, type(failure.exc).__name__, remaining,
                              exc_info=failure.exc)
        raise failure.exc
    failure.ctx.log.error("record %s failed (%s); reporting it and %d later record(s) as batch "
                          "item failures", record.sequence_number, type(failure.exc).__name__,
                          remaining - 1, exc_info=failure.exc)
    return batch_item_failures(raw_records[index:])


def _run_records(raw_records: list[dict[str, Any]], parsed: list[Parsed], function_name: str,
                 process: Processor, correlation_of: Callable[[StreamRecord], str]
                 ) -> dict[str, Any]:
    for index, record in enumerate(parsed):
        failure = _run_one(record, function_name, process, correlation_of)
        if failure is not None:
            return _answer(raw_records, index, failure)
    return {"batchItemFailures": []}


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(size: int) -> ThreadPoolExecutor:
    """The process's thread pool of `size` threads (kept for later invocations, as Lambda
    keeps an execution environment's threads)."""
    with _pools_lock:
        pool = _pools.get(size)
        if pool is None:
            pool = _pools[size] = ThreadPoolExecutor(size, thread_name_prefix="record")
        return pool


def partition_key(raw: dict[str, Any]) -> str:
    """The stream record's item key (its partition key), as a comparable string."""
    return json.dumps((raw.get("dynamodb") or {}).get("Keys"), sort_keys=True, default=str)


def ordered_groups(raw_records: list[dict[str, Any]], parsed: list[Parsed],
                   shares: Shares | None = None) -> list[list[int]]:
    """The batch's record indices in groups to run one after another, each in stream order:
    records with the same item key, or naming a common resource in `shares`, share a group
    (transitively); groups are ordered by their first record."""
    parent = list(range(len(raw_records)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    first_with: dict[str, int] = {}
    for index, (raw, record) in enumerate(zip(raw_records, parsed, strict=True)):
        names = [f"key:{partition_key(raw)}"]
        if shares is not None and not isinstance(record, Exception):
            try:
                names.extend(f"shares:{name}" for name in shares(record))
            except Exception as exc:  # noqa: BLE001 - the record's own processing reports it
                log.debug("no shared resources named for a record: %s", exc)
        for name in names:
            seen = first_with.setdefault(name, index)
            a, b = root(seen), root(index)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for index in range(len(raw_records)):
        groups.setdefault(root(index), []).append(index)
    return list(groups.values())


def _run_by_key(raw_records: list[dict[str, Any]], parsed: list[Parsed], function_name: str,
                process: Processor, correlation_of: Callable[[StreamRecord], str],
                concurrency: int, shares: Shares | None) -> dict[str, Any]:
    groups = ordered_groups(raw_records, parsed, shares)
    if len(groups) < 2:
        return _run_records(raw_records, parsed, function_name, process, correlation_of)
    failures: dict[int, _Failure] = {}

    def run_group(indices: list[int]) -> None:
        for index in indices:
            failure = _run_one(parsed[index], function_name, process, correlation_of)
            if failure is not None:
                failures[index] = failure
                return  # the key's later records wait for the retry

    pool = _pool(min(concurrency, MAX_CONCURRENCY))
    # each group sees this invocation's context (the prefetched rows of batch_reads)
    futures = [pool.submit(contextvars.copy_context().run, run_group, indices)
               for indices in groups]
    for future in futures:
        future.result()
    if not failures:
        return {"batchItemFailures": []}
    first = min(failures)
    return _answer(raw_records, first, failures[first])


def heartbeat_acknowledged(function_name: str) -> None:
    """A heartbeat record, acknowledged (nothing else to do): count it, in CloudWatch
    (`ConsumerHeartbeats` by FunctionName, sent with the batch's metrics) and Prometheus. The
    count is the consumer's liveness: the silent-consumer alarms watch it."""
    HEARTBEATS.labels(function_name).inc()
    count_metric(CONSUMER_HEARTBEATS, 1.0, {"FunctionName": function_name})


def batch_item_failures(raw_records: list[dict[str, Any]]) -> dict[str, Any]:
    """The partial batch response naming `raw_records` by sequence number."""
    return {"batchItemFailures": [
        {"itemIdentifier": str((raw.get("dynamodb") or {}).get("SequenceNumber", ""))}
        for raw in raw_records
    ]}
