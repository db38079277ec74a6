"""Unit tests of the ESM rules (local_stack.stream_runtime.semantics): pure, no moto.

Each test names the AWS-documented behaviour it pins down.
"""

from __future__ import annotations

from collections import deque

import pytest

from local_stack.stream_runtime.semantics import (
    RECORD_AGE_EXCEEDED,
    RETRY_ATTEMPTS_EXHAUSTED,
    CheckpointTracker,
    EsmSettings,
    InvocationResult,
    PendingBatch,
    ResultKind,
    StreamRecord,
    backoff_s,
    batch_ready,
    classify_response,
    decide,
    expired_failure,
    lane_for,
    on_failure_record,
    split_expired,
    take_batch,
)

SUCCESS = InvocationResult(ResultKind.SUCCESS)
ERROR = InvocationResult(ResultKind.FUNCTION_ERROR)


def rec(seq: int, created: float = 1000.0, key: str = "k", size: int = 100) -> StreamRecord:
    return StreamRecord(seq=seq, created_at=created, partition_key=key,
                        payload={"dynamodb": {"SequenceNumber": str(seq)}}, size=size)


def batch(*seqs: int, retries: int = 0) -> PendingBatch:
    return PendingBatch(tuple(rec(s) for s in seqs), retries=retries)


def seqs(records: tuple[StreamRecord, ...] | PendingBatch) -> list[int]:
    items = records.records if isinstance(records, PendingBatch) else records
    return [r.seq for r in items]


# -- settings ------------------------------------------------------------------------------------
def test_settings_defaults_are_awss_when_api_fields_are_null() -> None:
    """DynamoDB ESM parameter table: BatchSize 100, window 0, retries -1, age -1, bisect off,
    parallelization 1."""
    s = EsmSettings.from_api({"BatchSize": None, "MaximumRetryAttempts": None,
                              "StartingPosition": "LATEST"})
    assert (s.batch_size, s.max_batching_window_s, s.max_retry_attempts, s.max_record_age_s,
            s.bisect_on_error, s.parallelization_factor, s.report_batch_item_failures,
            s.on_failure_arn, s.starting_position) == (100, 0.0, -1, -1, False, 1, False, None,
                                                       "LATEST")


def test_settings_read_every_field() -> None:
    s = EsmSettings.from_api({
        "BatchSize": 7, "MaximumBatchingWindowInSeconds": 2, "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 60, "BisectBatchOnFunctionError": True,
        "FunctionResponseTypes": ["ReportBatchItemFailures"], "ParallelizationFactor": 4,
        "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:1:q"}},
    })
    assert (s.batch_size, s.max_batching_window_s, s.max_retry_attempts, s.max_record_age_s,
            s.bisect_on_error, s.report_batch_item_failures, s.parallelization_factor,
            s.on_failure_arn) == (7, 2.0, 3, 60, True, True, 4, "arn:aws:sqs:us-east-1:1:q")


# -- the jam and retries ---------------------------------------------------------------------------
def test_function_error_retries_whole_batch_and_completes_nothing() -> None:
    """'If your function returns an error, Lambda retries the batch until processing succeeds
    or the data expires' — the shard does not advance (default: infinite retries)."""
    b = batch(1, 2, 3)
    for expected_retries in range(1, 50):
        d = decide(b, ERROR, EsmSettings())
        assert d.completed == () and d.failed is None
        (b,) = d.retry
        assert seqs(b) == [1, 2, 3] and b.retries == expected_retries


def test_success_completes_the_batch() -> None:
    d = decide(batch(1, 2), SUCCESS, EsmSettings())
    assert seqs(d.completed) == [1, 2] and d.retry == () and d.failed is None


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_maximum_retry_attempts_then_on_failure(max_retries: int) -> None:
    """MaximumRetryAttempts: after that many retries the batch is discarded
    (RetryAttemptsExhausted) and the shard moves on."""
    settings = EsmSettings(max_retry_attempts=max_retries)
    b = batch(5, 6)
    invocations = 0
    while True:
        d = decide(b, ERROR, settings)
        invocations += 1
        if d.failed:
            break
        (b,) = d.retry
    assert invocations == max_retries + 1
    assert d.failed.condition == RETRY_ATTEMPTS_EXHAUSTED
    assert seqs(d.failed.records) == [5, 6]
    assert d.failed.invocations == invocations
    assert d.failed.function_error == "Unhandled"


# -- bisect --------------------------------------------------------------------------------------
def test_bisect_splits_in_halves_without_consuming_retries() -> None:
    """BisectBatchOnFunctionError: 'splits a failed batch into two smaller batches ... Splitting
    batches doesn't consume the retry quota.'"""
    d = decide(batch(1, 2, 3, 4, 5, retries=2), ERROR, EsmSettings(bisect_on_error=True,
                                                                   max_retry_attempts=2))
    left, right = d.retry
    assert seqs(left) == [1, 2] and seqs(right) == [3, 4, 5]
    assert left.retries == right.retries == 2
    assert d.failed is None and not d.counted_retry


def test_bisect_isolates_a_poison_record_then_its_retries_count() -> None:
    """With bisect + MaximumRetryAttempts=1, only the poison record reaches OnFailure; every
    other record of the batch succeeds, in order."""
    settings = EsmSettings(bisect_on_error=True, max_retry_attempts=1)
    poison = 6
    work = deque([batch(*range(1, 11))])
    completed: list[int] = []
    failed = []
    while work:
        b = work.popleft()
        result = ERROR if poison in seqs(b) else SUCCESS
        d = decide(b, result, settings)
        completed += seqs(d.completed)
        if d.failed:
            failed.append(d.failed)
        work.extendleft(reversed(d.retry))
    assert completed == [1, 2, 3, 4, 5, 7, 8, 9, 10]
    (f,) = failed
    assert seqs(f.records) == [poison] and f.condition == RETRY_ATTEMPTS_EXHAUSTED


def test_bisect_with_infinite_retries_keeps_retrying_the_poison_record() -> None:
    settings = EsmSettings(bisect_on_error=True)
    b = batch(9)
    for _ in range(20):
        (b,) = decide(b, ERROR, settings).retry
    assert seqs(b) == [9] and b.retries == 20


# -- partial batch responses ---------------------------------------------------------------------
def test_classify_partial_responses_per_aws_rules() -> None:
    """Partial batch response success/failure conditions (services-ddb-batchfailurereporting)."""
    records = (rec(10), rec(11), rec(12))
    on = True
    assert classify_response(None, records, on).kind is ResultKind.SUCCESS
    assert classify_response({}, records, on).kind is ResultKind.SUCCESS
    assert classify_response({"batchItemFailures": []}, records, on).kind is ResultKind.SUCCESS
    assert classify_response({"batchItemFailures": None}, records, on).kind is ResultKind.SUCCESS
    for bad in ([{"itemIdentifier": ""}], [{"itemIdentifier": None}], [{"wrongKey": "11"}],
                [{"itemIdentifier": "999"}], "nope"):
        result = classify_response({"batchItemFailures": bad}, records, on)
        assert result.kind is ResultKind.FUNCTION_ERROR, bad
    result = classify_response(
        {"batchItemFailures": [{"itemIdentifier": "12"}, {"itemIdentifier": "11"}]}, records, on)
    assert result.kind is ResultKind.PARTIAL and result.first_failed_index == 1


def test_partial_response_ignored_unless_report_batch_item_failures() -> None:
    """'these responses will not be processed by Lambda unless the ReportBatchItemFailures
    feature is explicitly turned on'."""
    records = (rec(1),)
    result = classify_response({"batchItemFailures": [{"itemIdentifier": "1"}]}, records, False)
    assert result.kind is ResultKind.SUCCESS


def test_partial_failure_checkpoints_before_lowest_failure_and_retries_from_it() -> None:
    """'Lambda uses the record with the lowest sequence number as the checkpoint. Lambda then
    retries all records starting from that checkpoint.'"""
    d = decide(batch(1, 2, 3, 4), InvocationResult(ResultKind.PARTIAL, first_failed_index=2),
               EsmSettings(report_batch_item_failures=True))
    assert seqs(d.completed) == [1, 2]
    (retry,) = d.retry
    assert seqs(retry) == [3, 4] and retry.retries == 1 and d.counted_retry


def test_partial_failure_exhausting_retries_sends_only_the_rest_to_on_failure() -> None:
    d = decide(batch(1, 2, 3), InvocationResult(ResultKind.PARTIAL, first_failed_index=1),
               EsmSettings(report_batch_item_failures=True, max_retry_attempts=0))
    assert seqs(d.completed) == [1]
    assert d.failed is not None and seqs(d.failed.records) == [2, 3]
    assert d.failed.function_error is None  # a partial response is a successful invocation


def test_partial_failure_with_bisect_splits_at_the_failure_without_retry_cost() -> None:
    """'the batch is bisected at the returned sequence number and Lambda retries only the
    remaining records'."""
    settings = EsmSettings(report_batch_item_failures=True, bisect_on_error=True,
                           max_retry_attempts=0)
    d = decide(batch(1, 2, 3, 4), InvocationResult(ResultKind.PARTIAL, first_failed_index=3),
               settings)
    assert seqs(d.completed) == [1, 2, 3]
    (retry,) = d.retry
    assert seqs(retry) == [4] and retry.retries == 0 and d.failed is None


def test_partial_failure_of_first_record_with_bisect_bisects_in_halves() -> None:
    settings = EsmSettings(report_batch_item_failures=True, bisect_on_error=True)
    d = decide(batch(1, 2, 3, 4), InvocationResult(ResultKind.PARTIAL, first_failed_index=0),
               settings)
    assert [seqs(b) for b in d.retry] == [[1, 2], [3, 4]] and d.completed == ()


# -- record age ----------------------------------------------------------------------------------
def test_record_age_discards_the_expired_prefix() -> None:
    """MaximumRecordAgeInSeconds: 'Lambda discards records older than the specified age'."""
    b = PendingBatch((rec(1, created=100), rec(2, created=150), rec(3, created=195)),
                     invocations=4, last_error="Unhandled")
    expired, rest = split_expired(b, 60, now=200)
    assert seqs(expired) == [1] and rest is not None and seqs(rest) == [2, 3]
    assert rest.invocations == 4
    failure = expired_failure(expired, b)
    assert failure.condition == RECORD_AGE_EXCEEDED and failure.invocations == 4
    expired, rest = split_expired(b, 1, now=200)
    assert seqs(expired) == [1, 2, 3] and rest is None
    assert split_expired(b, -1, now=10**9) == ((), b)


# -- batching ------------------------------------------------------------------------------------
def test_batching_window_and_batch_size() -> None:
    """Invoke when the batch is full or the window has elapsed; window 0 = at once."""
    assert not batch_ready(0, 10, 0, 99)
    assert batch_ready(1, 10, 0, 0)
    assert not batch_ready(3, 10, 2.0, 1.0)
    assert batch_ready(3, 10, 2.0, 2.0)
    assert batch_ready(10, 10, 300, 0)


def test_take_batch_respects_batch_size_and_payload_limit() -> None:
    waiting = deque(rec(i, size=400) for i in range(10))
    assert seqs(take_batch(waiting, 4)) == [0, 1, 2, 3]
    assert seqs(take_batch(waiting, 100, payload_limit=1000)) == [4, 5]
    big = deque([rec(1, size=10_000)])
    assert seqs(take_batch(big, 10, payload_limit=1000)) == [1]  # alone, never stuck


def test_lanes_keep_a_partition_key_together() -> None:
    """ParallelizationFactor: 'in-order processing at the partition-key level'."""
    assert lane_for("pk=a", 1) == 0
    lanes = {lane_for(f"pk={i}", 5) for i in range(200)}
    assert lanes == set(range(5))
    assert all(lane_for("pk=x", 5) == lane_for("pk=x", 5) for _ in range(3))


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff_s(n, 0.1, 1.0) for n in range(6)] == [0.0, 0.1, 0.2, 0.4, 0.8, 1.0]


# -- checkpoints ---------------------------------------------------------------------------------
def test_checkpoint_moves_only_when_the_oldest_record_is_done() -> None:
    tracker = CheckpointTracker()
    records = [rec(s, created=float(s)) for s in (10, 20, 30, 40)]
    for r in records:
        tracker.add(r)
    tracker.complete([records[1], records[3]])  # another lane finished later records
    assert tracker.checkpoint is None and tracker.oldest_outstanding() == records[0]
    tracker.complete([records[0]])
    assert tracker.checkpoint == 20 and tracker.oldest_outstanding() == records[2]
    tracker.complete([records[2]])
    assert tracker.checkpoint == 40 and tracker.outstanding == 0
    tracker.add(rec(40))  # re-read below the checkpoint: ignored
    assert tracker.outstanding == 0


# -- OnFailure record ----------------------------------------------------------------------------
def test_on_failure_record_has_the_aws_shape() -> None:
    """Invocation record for a DynamoDB source: requestContext, responseContext, version,
    timestamp, DDBStreamBatchInfo."""
    failed = decide(batch(7, 8), ERROR, EsmSettings(max_retry_attempts=0)).failed
    assert failed is not None
    body = on_failure_record(failed, function_arn="arn:aws:lambda:us-east-1:1:function:f",
                             stream_arn="arn:s", shard_id="shardId-1", now=0.0)
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 1
    assert body["requestContext"]["functionArn"].endswith(":function:f")
    assert body["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                       "functionError": "Unhandled"}
    assert body["version"] == "1.0" and body["timestamp"] == "1970-01-01T00:00:00.000Z"
    info = body["DDBStreamBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"],
            info["batchSize"], info["streamArn"]) == ("shardId-1", "7", "8", 2, "arn:s")
    assert {"approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"} <= set(info)


def test_on_failure_record_without_invocation_has_no_response_context() -> None:
    b = PendingBatch((rec(1, created=0),))
    expired, _ = split_expired(b, 60, now=1000)
    body = on_failure_record(expired_failure(expired, b), function_arn="f", stream_arn="s",
                             shard_id="x", now=1000)
    assert body["requestContext"]["condition"] == "RecordAgeExceeded"
    assert "responseContext" not in body
