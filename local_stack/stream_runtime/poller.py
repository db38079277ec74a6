"""Consuming one event source mapping: its shards, their lanes, invocations and outcomes.

* ``MappingConsumer`` (a thread per mapping) follows the mapping's state: while it is Enabled it
  describes the stream, starts a ``ShardProcessor`` per shard that may be read (lineage, see
  ``shard_reader.plan_shards``), and marks shards finished. When the mapping is Disabled, or its
  ParallelizationFactor changes, the processors stop after their in-flight invocations and are
  started again later from the shard's checkpoint: records read but not finished are read again
  (``seek_at`` the oldest unfinished one); their retry counts start again. A disabled mapping
  reads nothing; an invocation already running when it is disabled completes.
* ``ShardProcessor`` (a coordinator thread per shard) reads the shard into lanes — one lane per
  unit of ParallelizationFactor, records assigned by partition key — forms batches
  (BatchSize, MaximumBatchingWindowInSeconds), and runs at most one batch per lane at a time on
  a small thread pool. Each step applies ``semantics``: expiry, throttling, invocation,
  ``decide``, OnFailure. The shard's checkpoint is the tracker's (every record up to it done).

The rules themselves live in ``semantics``; this module only sequences them against the APIs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_stack.stream_runtime.checkpoints import CheckpointStore
from local_stack.stream_runtime.destinations import OnFailureSender
from local_stack.stream_runtime.handlers import FunctionConfig, FunctionInvoker
from local_stack.stream_runtime.mappings import MappingConfig, MappingRegistry
from local_stack.stream_runtime.metrics import RuntimeMetrics
from local_stack.stream_runtime.semantics import (
    CheckpointTracker,
    FailedBatch,
    InvocationResult,
    PendingBatch,
    ResultKind,
    StreamRecord,
    backoff_s,
    batch_ready,
    classify_response,
    decide,
    expired_failure,
    lambda_event,
    lane_for,
    on_failure_record,
    split_expired,
    take_batch,
)
from local_stack.stream_runtime.shard_reader import (
    GET_RECORDS_LIMIT,
    ShardGone,
    ShardInfo,
    ShardReader,
    describe_stream,
    plan_shards,
)

log = logging.getLogger(__name__)


@dataclass
class RuntimeOptions:
    """Timings of the runtime; defaults follow AWS where AWS documents them."""

    poll_interval_s: float = 0.25  # Lambda polls DynamoDB stream shards 4 times a second
    refresh_s: float = 1.0  # Lambda API re-read (mapping/concurrency changes take effect)
    shard_refresh_s: float = 10.0  # DescribeStream, for new shards
    error_backoff_base_s: float = 0.1  # local choice: retry delay after a function error ...
    error_backoff_max_s: float = 1.0  # ... doubling up to this
    throttle_backoff_base_s: float = 0.25  # local choice: retry delay after a throttle ...
    throttle_backoff_max_s: float = 2.0  # ... doubling up to this
    destination_retry_s: float = 1.0  # OnFailure destination unreachable: retry this often
    shutdown_grace_s: float = 5.0  # in-flight invocations get this long at stop
    read_ahead_batches: int = 2  # records buffered per lane, in batches


@dataclass
class Services:
    """What consumers share."""

    registry: MappingRegistry
    streams: Any  # boto3 dynamodbstreams client
    invoker: FunctionInvoker
    destinations: OnFailureSender
    metrics: RuntimeMetrics
    checkpoints: CheckpointStore
    options: RuntimeOptions
    stop: threading.Event


class _Log(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        extra = self.extra or {}
        return f"function={extra.get('function')} shard={extra.get('shard')}: {msg}", kwargs


class _RateLimited:
    """Log the first few and then every n-th occurrence of a recurring problem."""

    def __init__(self, every: int = 50) -> None:
        self.count = 0
        self.every = every

    def should_log(self) -> bool:
        self.count += 1
        return self.count <= 3 or self.count % self.every == 0

    def reset(self) -> None:
        self.count = 0


@dataclass
class ShardState:
    """One shard of one mapping; outlives processor restarts (disable/enable)."""

    info: ShardInfo
    reader: ShardReader
    tracker: CheckpointTracker
    lock: threading.Lock = field(default_factory=threading.Lock)
    finished: bool = False

    def iterator_age_s(self, now: float) -> float:
        with self.lock:
            oldest = self.tracker.oldest_outstanding()
        return max(0.0, now - oldest.created_at) if oldest else 0.0


@dataclass
class Lane:
    index: int
    window_start: float
    pending: deque[StreamRecord] = field(default_factory=deque)
    work: deque[PendingBatch] = field(default_factory=deque)
    busy: bool = False
    not_before: float = 0.0
    throttles: int = 0


class ShardProcessor:
    """Reads one shard and runs its lanes until told to stop or the mapping changes."""

    def __init__(self, mapping: MappingConfig, state: ShardState, services: Services) -> None:
        self.uuid = mapping.uuid
        self.stream_arn = mapping.stream_arn
        self.function_name = mapping.function_name
        self.state = state
        self.shard_id = state.info.shard_id
        self.svc = services
        self.factor = mapping.settings.parallelization_factor
        self.halt = threading.Event()  # set when this processor is leaving
        self.exit_reason = ""
        self._cond = threading.Condition(state.lock)
        self.log = _Log(log, {"function": mapping.function_name, "shard": self.shard_id})
        self._read_errors = _RateLimited()
        self._dest_errors = _RateLimited()

    # -- coordinator ----------------------------------------------------------------------------
    def run(self) -> str:
        """The coordinator loop of one shard; returns why it left ("stopped", "deleted",
        "disabled", "reconfigured", "finished", "gone" or "crashed").

        Threads: this loop is the only one that reads the shard, forms batches and moves the
        checkpoint forward in the store; lane steps (``_step``) run on the pool, one per lane at
        a time, and report back by completing records in the tracker and putting retries at the
        front of their lane, under ``self._cond`` (the shard's lock). The loop sleeps on that
        condition, so a finished step wakes it at once.

        Restart and checkpoint rules:

        * the loop leaves, without invoking anything more, as soon as the mapping is deleted,
          disabled or its ParallelizationFactor changes (the lane layout depends on it) or the
          runtime stops; an invocation already running completes (its step then finds
          ``halt`` set and puts its batch back, not invoked again);
        * the saved checkpoint is only ever the tracker's: the highest sequence number with it
          and everything read before it done (succeeded, sent to OnFailure or dropped). Records
          read but not done are *not* covered: ``MappingConsumer`` restarts a processor from
          ``seek_at(oldest outstanding)``, so they are read and delivered again
          (at-least-once, as on AWS), with fresh retry counts;
        * a crash of this loop (any exception but ShardGone) is logged; the consumer forgets
          the shard and rediscovers it after 2 s from the stored checkpoint;
        * "finished" (a closed shard read to its end and every record done) is stored, so a
          restart never reads it again and its children may start.
        """
        opts = self.svc.options
        now = time.monotonic()
        lanes = [Lane(i, window_start=now) for i in range(self.factor)]
        executor = ThreadPoolExecutor(max_workers=self.factor,
                                      thread_name_prefix=f"lane-{self.function_name}")
        next_poll = 0.0
        reason = "stopped"
        self.log.info("processing (parallelization factor %d)", self.factor)
        try:
            while True:
                # 1. should this processor still run? The mapping is a snapshot the registry
                #    refreshes about every second: changes through the Lambda API land here.
                if self.svc.stop.is_set():
                    reason = "stopped"
                    break
                mapping = self.svc.registry.mapping(self.uuid)
                if mapping is None:
                    reason = "deleted"
                    break
                if not mapping.enabled:
                    reason = "disabled"
                    break
                if mapping.settings.parallelization_factor != self.factor:
                    reason = "reconfigured"
                    break
                settings = mapping.settings
                now = time.monotonic()
                # 2. read more when it is time to poll and the lanes have room: at most
                #    read_ahead_batches batches per lane wait in memory, so a jammed lane stops
                #    the reading (the backlog stays in the stream, as with Lambda's poller).
                with self._cond:
                    waiting = sum(len(lane.pending) for lane in lanes)
                room = settings.batch_size * self.factor * opts.read_ahead_batches - waiting
                if not self.state.reader.ended and now >= next_poll and room > 0:
                    next_poll = self._read(lanes, min(room, GET_RECORDS_LIMIT), now, mapping)
                now = time.monotonic()
                with self._cond:
                    # 3. start a step on every idle lane whose back-off has passed: a batch to
                    #    retry first (lane.work), else a new batch once full or its window is up.
                    for lane in lanes:
                        if lane.busy or now < lane.not_before:
                            continue
                        batch = self._next_batch(lane, settings.batch_size,
                                                 settings.max_batching_window_s, now)
                        if batch is not None:
                            lane.busy = True
                            executor.submit(self._step, lane, batch)
                    # 4. store how far the shard is done (a no-op while nothing finished).
                    self._save_checkpoint()
                    # 5. a closed shard read to its end with nothing left anywhere: finished.
                    if (self.state.reader.ended and self.state.tracker.outstanding == 0
                            and not any(lane.busy or lane.pending or lane.work
                                        for lane in lanes)):
                        reason = "finished"
                        break
                    # 6. sleep until the next poll, back-off end or batching window, at most a
                    #    poll interval; a lane step finishing notifies and wakes this at once.
                    wake = next_poll if not self.state.reader.ended else now + opts.poll_interval_s
                    for lane in lanes:
                        if lane.busy:
                            continue
                        if lane.work:
                            wake = min(wake, lane.not_before)
                        elif lane.pending:
                            wake = min(wake, max(lane.not_before, lane.window_start
                                                 + settings.max_batching_window_s))
                    timeout = min(opts.poll_interval_s, max(0.005, wake - now))
                    self._cond.wait(timeout)
        except ShardGone as exc:
            reason = "gone"
            self.log.warning("shard or stream gone: %s", exc)
        except Exception:
            reason = "crashed"
            self.log.exception("shard processor failed; it will be restarted from its checkpoint")
        finally:
            # leaving: no new step starts (halt), running steps finish or put their batch back
            # (executor.shutdown waits for them), then the last checkpoint is stored
            self.halt.set()
            executor.shutdown(wait=True)
            with self._cond:
                self._save_checkpoint(finished=reason == "finished")
            self.exit_reason = reason
            self.log.info("stopped processing (%s)", reason)
        return reason

    def _read(self, lanes: list[Lane], limit: int, now: float, mapping: MappingConfig) -> float:
        """One GetRecords; returns when to poll next."""
        opts = self.svc.options
        try:
            records = self.state.reader.read(limit)
        except ShardGone:
            raise
        except (BotoCoreError, ClientError) as exc:
            if self._read_errors.should_log():
                self.log.warning("GetRecords failed (%d times): %s", self._read_errors.count, exc)
            return now + max(1.0, opts.poll_interval_s)
        self._read_errors.reset()
        self.svc.metrics.esm.polled(mapping, len(records))  # 0 for an empty poll, as on AWS
        if not records:
            return now + opts.poll_interval_s
        with self._cond:
            for record in records:
                self.state.tracker.add(record)
                lanes[lane_for(record.partition_key, self.factor)].pending.append(record)
        self.svc.metrics.records_counted(self.function_name, "read", len(records))
        return now  # there may be more: read again as soon as there is room

    @staticmethod
    def _next_batch(lane: Lane, batch_size: int, window_s: float,
                    now: float) -> PendingBatch | None:
        if lane.work:
            return lane.work.popleft()
        if batch_ready(len(lane.pending), batch_size, window_s, now - lane.window_start):
            return PendingBatch(take_batch(lane.pending, batch_size))
        return None

    def _save_checkpoint(self, finished: bool = False) -> None:
        checkpoint = self.state.tracker.checkpoint
        if checkpoint is not None or finished:
            self.svc.checkpoints.set(self.uuid, self.shard_id, self.stream_arn, checkpoint,
                                     finished=finished)

    # -- one lane step (pool thread) ------------------------------------------------------------
    def _step(self, lane: Lane, batch: PendingBatch) -> None:
        requeue: PendingBatch | None = batch
        try:
            requeue = self._attempt(lane, batch)
        except Exception:
            self.log.exception("lane %d step failed; batch kept for retry", lane.index)
            lane.not_before = time.monotonic() + 1.0
        finally:
            with self._cond:
                if requeue is not None:
                    lane.work.appendleft(requeue)
                lane.busy = False
                self._cond.notify_all()

    def _attempt(self, lane: Lane, batch: PendingBatch) -> PendingBatch | None:
        """Expire, throttle or invoke `batch`; returns a batch to put back in front, if any."""
        svc, opts = self.svc, self.svc.options
        mapping = svc.registry.mapping(self.uuid)
        if mapping is None or self.halt.is_set():
            return batch  # leaving (disabled, reconfigured, stopping): not invoked, not lost
        settings = mapping.settings
        expired, rest = split_expired(batch, settings.max_record_age_s, time.time())
        if expired:
            if not self._give_up(expired_failure(expired, batch), mapping):
                return batch
        if rest is None:
            return None
        function = svc.registry.function(mapping.function_name)
        if function is None:
            lane.not_before = time.monotonic() + opts.refresh_s
            return rest
        if not svc.invoker.try_acquire(function):
            if svc.invoker.closing:
                return rest
            lane.throttles += 1
            svc.metrics.throttled(function.name)
            svc.metrics.esm.invoke_attempted(mapping, len(rest.records))
            svc.metrics.esm.invoke_failed(mapping, len(rest.records))
            lane.not_before = time.monotonic() + backoff_s(
                lane.throttles, opts.throttle_backoff_base_s, opts.throttle_backoff_max_s)
            if lane.throttles in (1, 10) or lane.throttles % 100 == 0:
                self.log.warning("throttled (reserved concurrency %s), attempt %d",
                                 function.reserved_concurrency, lane.throttles)
            return rest
        try:
            iterator_age = max(0.0, time.time() - rest.last.created_at)
            outcome = svc.invoker.invoke(function, lambda_event(rest.records))
        finally:
            svc.invoker.release(function)
        if outcome.abandoned:
            self.log.warning("in-flight batch %s..%s abandoned at shutdown (not checkpointed)",
                             rest.first.seq_str, rest.last.seq_str)
            return None
        lane.throttles = 0
        svc.metrics.invoked(function.name, outcome.duration_s, error=not outcome.ok,
                            iterator_age_s=iterator_age)
        svc.metrics.esm.invoke_attempted(mapping, len(rest.records))
        if outcome.ok:
            result = classify_response(outcome.response, rest.records,
                                       settings.report_batch_item_failures)
        else:
            result = InvocationResult(ResultKind.FUNCTION_ERROR,
                                      reason=f"{outcome.error_type}: {outcome.error_message}")
        if result.kind is not ResultKind.SUCCESS:  # the records this invocation did not finish
            svc.metrics.esm.invoke_failed(mapping, len(rest.records) - result.first_failed_index)
        return self._apply(lane, rest, result, mapping, function)

    def _apply(self, lane: Lane, batch: PendingBatch, result: InvocationResult,
               mapping: MappingConfig, function: FunctionConfig) -> PendingBatch | None:
        opts = self.svc.options
        decision = decide(batch, result, mapping.settings)
        if result.kind is not ResultKind.SUCCESS:
            nxt = decision.retry[0] if decision.retry else None
            self.log.warning(
                "batch %s..%s (%d records) %s: %s; %s", batch.first.seq_str, batch.last.seq_str,
                len(batch.records), result.kind.value, result.reason or "partial batch failure",
                "bisected" if len(decision.retry) == 2 else
                f"retry {nxt.retries} from {nxt.first.seq_str}" if nxt else "giving up")
        with self._cond:
            self.state.tracker.complete(decision.completed)
        self.svc.metrics.records_counted(function.name, "processed", len(decision.completed))
        if decision.failed is not None:
            # False: destination unreachable while stopping; the records stay unfinished
            self._give_up(decision.failed, mapping)
        with self._cond:
            for retry in reversed(decision.retry):
                lane.work.appendleft(retry)
            now = time.monotonic()
            lane.window_start = now
            if decision.retry and result.kind is not ResultKind.SUCCESS:
                attempt = max(1, decision.retry[0].retries)
                lane.not_before = now + backoff_s(attempt, opts.error_backoff_base_s,
                                                  opts.error_backoff_max_s)
        return None

    def _give_up(self, failed: FailedBatch, mapping: MappingConfig) -> bool:
        """OnFailure (or discard) for `failed`; True once its records count as finished."""
        destination = mapping.settings.on_failure_arn
        n = len(failed.records)
        span = f"{failed.records[0].seq_str}..{failed.records[-1].seq_str}"
        if destination:
            record = on_failure_record(failed, function_arn=mapping.function_arn,
                                       stream_arn=self.stream_arn, shard_id=self.shard_id,
                                       now=time.time())
            while True:
                try:
                    self.svc.destinations.send(destination, record)
                    self._dest_errors.reset()
                    break
                except Exception as exc:
                    if self._dest_errors.should_log():
                        self.log.error("OnFailure destination %s refused %s (%s); retrying",
                                       destination, span, exc)
                    if self.svc.stop.wait(self.svc.options.destination_retry_s):
                        return False
            self.log.warning("%d records %s sent to OnFailure %s (%s, %d invocations)",
                             n, span, destination, failed.condition, failed.invocations)
            self.svc.metrics.esm.gave_up(mapping, n, delivered=True)
            outcome = "on_failure"
        else:
            self.log.warning("%d records %s discarded (%s, %d invocations, no OnFailure "
                             "destination)", n, span, failed.condition, failed.invocations)
            self.svc.metrics.esm.gave_up(mapping, n, delivered=False)
            outcome = "discarded"
        with self._cond:
            self.state.tracker.complete(failed.records)
        self.svc.metrics.records_counted(mapping.function_name, outcome, n)
        return True


class MappingConsumer:
    """Follows one event source mapping: shard discovery, processor threads, enable/disable."""

    def __init__(self, uuid: str, services: Services) -> None:
        self.uuid = uuid
        self.svc = services
        self.shards: dict[str, ShardState] = {}
        self._running: dict[str, tuple[ShardProcessor, threading.Thread]] = {}
        self._first_look = True
        self._next_describe = 0.0
        self._describe_errors = _RateLimited(every=30)
        self._lock = threading.Lock()
        self.function_name = ""
        self.thread = threading.Thread(target=self._run, name=f"esm-{uuid[:8]}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def iterator_ages(self) -> Iterable[tuple[str, str, float]]:
        now = time.time()
        with self._lock:
            states = list(self.shards.values())
        for state in states:
            if not state.finished:
                yield self.function_name, state.info.shard_id, state.iterator_age_s(now)

    def _run(self) -> None:
        svc = self.svc
        try:
            while not svc.stop.is_set():
                mapping = svc.registry.mapping(self.uuid)
                if mapping is None:
                    log.info("mapping %s is gone; its consumer stops", self.uuid)
                    break
                self.function_name = mapping.function_name
                self._reap()
                if mapping.enabled and svc.registry.function(mapping.function_name):
                    self._start_processors(mapping)
                svc.stop.wait(min(0.2, svc.options.poll_interval_s))
        except Exception:
            log.exception("consumer of mapping %s failed", self.uuid)
        finally:
            for processor, _ in self._running.values():
                processor.halt.set()
            for _, thread in self._running.values():
                thread.join()
            self._running.clear()

    def _reap(self) -> None:
        for sid, (processor, thread) in list(self._running.items()):
            if thread.is_alive():
                continue
            del self._running[sid]
            if processor.exit_reason == "finished":
                with self._lock:
                    self.shards[sid].finished = True
                self._next_describe = 0.0  # children may start now
            elif processor.exit_reason in ("gone", "crashed"):
                with self._lock:
                    self.shards.pop(sid, None)
                self._next_describe = time.monotonic() + 2.0

    def _start_processors(self, mapping: MappingConfig) -> None:
        # restart shards that were stopped (disable/reconfigure), from their checkpoint
        for sid, state in list(self.shards.items()):
            if state.finished or sid in self._running:
                continue
            with state.lock:
                oldest = state.tracker.oldest_outstanding()
                if oldest is not None:
                    state.reader.seek_at(oldest.seq)
                state.tracker = CheckpointTracker(state.tracker.checkpoint)
            self._launch(mapping, state)
        if time.monotonic() < self._next_describe:
            return
        self._next_describe = time.monotonic() + self.svc.options.shard_refresh_s
        try:
            desc = describe_stream(self.svc.streams, mapping.stream_arn)
        except (BotoCoreError, ClientError) as exc:
            if self._describe_errors.should_log():
                log.warning("function=%s: DescribeStream %s failed: %s", mapping.function_name,
                            mapping.stream_arn, exc)
            self._next_describe = time.monotonic() + 2.0
            return
        self._describe_errors.reset()
        store = self.svc.checkpoints
        finished = {sid for sid, st in self.shards.items() if st.finished}
        finished |= {s.shard_id for s in desc.shards
                     if store.is_finished(self.uuid, s.shard_id, mapping.stream_arn)}
        checkpoints = {}
        for shard in desc.shards:
            saved = store.get(self.uuid, shard.shard_id, mapping.stream_arn)
            if saved is not None and shard.shard_id not in self.shards:
                checkpoints[shard.shard_id] = saved
        to_start, skip = plan_shards(
            desc.shards, starting_position=mapping.settings.starting_position,
            first_look=self._first_look, finished=finished,
            running=set(self.shards), checkpoints=checkpoints,
        )
        self._first_look = False
        infos = {s.shard_id: s for s in desc.shards}
        for sid in skip:
            store.set(self.uuid, sid, mapping.stream_arn, None, finished=True)
        for sid, start in to_start.items():
            reader = ShardReader(self.svc.streams, mapping.stream_arn, sid, start, desc.hash_key)
            try:
                reader.position()
            except (ShardGone, BotoCoreError, ClientError) as exc:
                log.warning("function=%s shard=%s: GetShardIterator failed: %s",
                            mapping.function_name, sid, exc)
                self._next_describe = time.monotonic() + 2.0
                continue
            checkpoint = start.seq if start.iterator_type == "AFTER_SEQUENCE_NUMBER" else None
            state = ShardState(infos[sid], reader, CheckpointTracker(checkpoint))
            with self._lock:
                self.shards[sid] = state
            log.info("function=%s shard=%s: starting at %s%s", mapping.function_name, sid,
                     start.iterator_type, f" {start.seq}" if start.seq is not None else "")
            self._launch(mapping, state)

    def _launch(self, mapping: MappingConfig, state: ShardState) -> None:
        processor = ShardProcessor(mapping, state, self.svc)
        thread = threading.Thread(target=processor.run,
                                  name=f"shard-{mapping.function_name}-{state.info.shard_id[-8:]}",
                                  daemon=True)
        self._running[state.info.shard_id] = (processor, thread)
        thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

