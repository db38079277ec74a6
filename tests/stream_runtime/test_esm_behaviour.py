"""Integration tests: the runtime (in-process threads, handlers in worker processes) against
a real moto server. Each test states the AWS-documented ESM behaviour it checks."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from tests.stream_runtime.conftest import Scenario, eventually, holds

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _iterator_age_points(sc: Scenario) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    return sc.c.cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="IteratorAge",
        Dimensions=[{"Name": "FunctionName", "Value": sc.function}],
        StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=1),
        Period=1, Statistics=["Maximum"])["Datapoints"]


def test_failing_batch_blocks_its_shard_and_iterator_age_grows(scenario: Scenario) -> None:
    """AWS: 'If your function returns an error, Lambda retries the batch until processing
    succeeds or the data expires. To ensure in-order processing, the event source mapping
    pauses processing for the affected shard until the error is resolved.' (default
    MaximumRetryAttempts/MaximumRecordAgeInSeconds = -1). The stream jam."""
    sc = scenario
    sc.deploy("fail_on_poison")
    sc.map(BatchSize=5)
    sc.put(2)
    sc.put(1, poison=True)
    sc.put(3)
    sc.start()
    eventually(lambda: len(sc.calls()) >= 4, what="repeated invocations of the failing batch")
    first_age = eventually(sc.iterator_age, what="a non-zero iterator age")
    # the same batch, again and again; nothing after it is delivered
    assert all(call["seqs"] == sc.calls()[0]["seqs"] for call in sc.calls())
    later = sc.put(2)
    holds(lambda: not set(later) & set(sc.delivered_keys()), 1.0, what="shard stays blocked")
    assert sc.iterator_age() > first_age + 0.8
    assert sc.metric("stream_runtime_iterator_age_seconds") > 1.0
    assert sc.metric("stream_runtime_errors_total") >= 4
    assert sc.metric("stream_runtime_records_total", outcome="processed") == 0
    # Lambda keeps invoking, so CloudWatch IteratorAge keeps being published, and grows
    eventually(lambda: max((p["Maximum"] for p in _iterator_age_points(sc)), default=0) > 1000,
               what="CloudWatch IteratorAge > 1 s during the jam")
    # the error is resolved: the shard drains in order and the age goes back to 0
    sc.heal()
    eventually(lambda: set(later) <= set(sc.delivered_keys()), what="the shard to drain")
    eventually(lambda: sc.iterator_age() == 0.0, what="iterator age back to 0")
    assert sc.metric("stream_runtime_records_total", outcome="processed") == 8


def test_bisect_isolates_poison_record_which_goes_to_on_failure_and_shard_moves_on(
        scenario: Scenario) -> None:
    """AWS: BisectBatchOnFunctionError 'splits a failed batch into two smaller batches,
    isolating bad records'; 'splitting batches doesn't consume the retry quota'; after
    MaximumRetryAttempts the record is sent to the OnFailure destination and Lambda 'continues
    processing batches from the stream'."""
    sc = scenario
    sc.deploy("fail_on_poison")
    sc.map(BatchSize=8, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
           DestinationConfig={"OnFailure": {"Destination": sc.queue()}})
    good_before = sc.put(4)
    (poison,) = sc.put(1, poison=True)
    good_after = sc.put(3)
    sc.start()
    messages = eventually(sc.on_failure_messages, what="the OnFailure record")
    (msg,) = messages
    poison_calls = [c for c in sc.calls() if c["keys"] == [poison]]
    assert len(poison_calls) == 2  # alone in a batch: first try + 1 retry
    info = msg["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison_calls[0]["seqs"][0]
    assert info["streamArn"] == sc.stream_arn and info["shardId"].startswith("shardId-")
    assert msg["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert msg["requestContext"]["functionArn"].endswith(f":function:{sc.function}")
    assert msg["responseContext"]["functionError"] == "Unhandled"
    # every good record processed, and the shard moved on to new writes
    eventually(lambda: set(good_before + good_after) <= set(sc.delivered_keys()))
    newer = sc.put(2)
    eventually(lambda: set(newer) <= set(sc.delivered_keys()), what="shard moved on")
    eventually(lambda: sc.iterator_age() == 0.0)
    assert sc.metric("stream_runtime_records_total", outcome="on_failure") == 1


def test_negative_control_without_bisect_or_on_failure_the_shard_stays_blocked(
        scenario: Scenario) -> None:
    """Negative control for the bisect test: with the defaults (no bisect, infinite retries,
    no OnFailure) the same poison record keeps the whole batch failing and nothing after it is
    processed."""
    sc = scenario
    sc.deploy("fail_on_poison")
    sc.map(BatchSize=8, DestinationConfig={"OnFailure": {"Destination": sc.queue()}})
    sc.put(4)
    sc.put(1, poison=True)
    sc.put(3)
    sc.start()
    eventually(lambda: len(sc.calls()) >= 3)
    newer = sc.put(2)
    holds(lambda: not set(newer) & set(sc.delivered_keys()), 1.5, what="shard stays blocked")
    assert all(len(c["keys"]) == 8 for c in sc.calls())  # never split
    assert sc.on_failure_messages() == []
    assert sc.metric("stream_runtime_records_total", outcome="processed") == 0


def test_partial_batch_response_retries_only_from_the_failed_item(scenario: Scenario) -> None:
    """AWS (ReportBatchItemFailures): 'Lambda uses the record with the lowest sequence number
    as the checkpoint. Lambda then retries all records starting from that checkpoint.'"""
    sc = scenario
    sc.deploy("partial_on_poison")
    sc.map(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    before = sc.put(3)
    (poison,) = sc.put(1, poison=True)
    after = sc.put(2)
    sc.start()
    eventually(lambda: len(sc.calls()) >= 3, what="retries from the failed item")
    first, *retries = sc.calls()
    assert first["keys"] == before + [poison] + after
    for call in retries:
        assert call["keys"] == [poison] + after  # never the records before the failure
    sc.heal()
    eventually(lambda: sc.metric("stream_runtime_records_total", outcome="processed") == 6)
    assert sc.metric("stream_runtime_errors_total") == 0  # partial failures are not errors
    assert sc.delivered_keys().count(before[0]) == 1


def test_reserved_concurrency_zero_throttles_and_never_invokes(scenario: Scenario) -> None:
    """AWS: reserved concurrency 0 throttles every invocation; an ESM that 'is unable to invoke
    the function due to throttling ... retries until the records expire' and the shard waits.
    Throttles do not count as invocations or errors."""
    sc = scenario
    sc.deploy("record_calls", reserved_concurrency=0)
    sc.map(BatchSize=10)
    keys = sc.put(3)
    sc.start()
    eventually(lambda: sc.metric("stream_runtime_throttles_total") >= 3, what="throttles")
    assert sc.calls() == []
    assert sc.metric("stream_runtime_invocations_total") == 0
    assert sc.iterator_age() > 0
    # lifting the reservation (DeleteFunctionConcurrency) lets the shard go on
    sc.c.lam.delete_function_concurrency(FunctionName=sc.function)
    eventually(lambda: sc.delivered_keys() == keys, what="delivery after the throttle")
    assert sc.metric("stream_runtime_records_total", outcome="processed") == 3


def test_disabled_mapping_reads_nothing_and_resumes_from_its_checkpoint(
        scenario: Scenario) -> None:
    """AWS: a Disabled event source mapping does not poll the stream; enabled again, it
    resumes where it stopped (from its checkpoint), so records written meanwhile arrive."""
    sc = scenario
    sc.deploy("record_calls")
    sc.map(BatchSize=10, Enabled=False, StartingPosition="LATEST")
    sc.start()
    sc.put(3)
    holds(lambda: sc.calls() == [] and sc.metric("stream_runtime_records_total",
                                                 outcome="read") == 0,
          1.0, what="a disabled mapping reads nothing")
    sc.update_mapping(Enabled=True)
    eventually(lambda: sc.positioned(), what="the LATEST iterator to be taken")
    first = sc.put(2)
    eventually(lambda: sc.delivered_keys() == first, what="LATEST: only new records")
    sc.update_mapping(Enabled=False)
    time.sleep(0.6)  # let the runtime see the change (refresh 0.2 s)
    while_disabled = sc.put(3)
    holds(lambda: sc.delivered_keys() == first, 0.8, what="nothing read while disabled")
    sc.update_mapping(Enabled=True)
    eventually(lambda: sc.delivered_keys() == first + while_disabled,
               what="resumed from the checkpoint")


def test_maximum_record_age_discards_old_records_to_on_failure(scenario: Scenario) -> None:
    """AWS: MaximumRecordAgeInSeconds — records older than this are discarded (OnFailure
    condition RecordAgeExceeded) and the shard moves on. AWS's minimum is 60 s; the test uses
    3 s through create_mapping(strict=False) (moto stores any value). The runtime is started
    and positioned before the records are written, so the failing batch is invoked (and
    retried) while it is young; a record read only after it aged out is discarded without an
    invocation, which is also AWS's behaviour but not what this test is about. The 1 s batching
    window gathers the three records into one batch."""
    sc = scenario
    sc.deploy("fail_on_poison")
    sc.map(strict=False, BatchSize=10, MaximumRecordAgeInSeconds=3,
           MaximumBatchingWindowInSeconds=1, StartingPosition="LATEST",
           DestinationConfig={"OnFailure": {"Destination": sc.queue()}})
    sc.start()
    eventually(lambda: sc.positioned(), what="the LATEST iterator to be taken")
    poison = sc.put(1, poison=True)
    sc.put(2)
    messages = eventually(sc.on_failure_messages, what="RecordAgeExceeded record")
    assert messages[0]["requestContext"]["condition"] == "RecordAgeExceeded"
    invoked_with_poison = [c for c in sc.calls() if poison[0] in c["keys"]]
    assert len(invoked_with_poison) >= 1
    assert messages[0]["requestContext"]["approximateInvokeCount"] == len(invoked_with_poison)
    # ApproximateCreationDateTime has one-second resolution, so the two good records written
    # just after the poison may age out with it or a second later (then they are invoked
    # alone and succeed): each of the three is either sent to OnFailure or processed, once.
    fresh = sc.put(2)
    eventually(lambda: set(fresh) <= set(sc.delivered_keys()), what="shard moved on")
    messages += sc.on_failure_messages()  # sent before the shard moved on to `fresh`
    sent = sum(m["DDBStreamBatchInfo"]["batchSize"] for m in messages)
    assert 1 <= sent <= 3
    assert sc.metric("stream_runtime_records_total", outcome="on_failure") == sent
    eventually(lambda: sc.metric("stream_runtime_records_total", outcome="processed")
               == 3 - sent + 2, what="every other record processed once")
    holds(lambda: sc.metric("stream_runtime_records_total", outcome="processed")
          == 3 - sent + 2, 0.5, what="and no more")


def test_parallelization_factor_runs_batches_concurrently_in_per_key_order(
        scenario: Scenario) -> None:
    """AWS: ParallelizationFactor lets one shard have several batches in flight, 'Lambda
    still ensures in-order processing at the partition-key level'."""
    sc = scenario
    sc.deploy("slow", env={"SLEEP_S": "0.25"})
    sc.map(BatchSize=2, ParallelizationFactor=4)
    keys = [f"key-{i}" for i in range(6)]
    for _ in range(3):
        for key in keys:
            sc.put(1, key=key)
    sc.start()
    eventually(lambda: len(sc.delivered_keys()) == 18, timeout_s=20, what="all records")
    calls = sorted(sc.calls(), key=lambda c: c["start"])
    overlap = max(sum(1 for o in calls if o["start"] < c["end"] and o["end"] > c["start"])
                  for c in calls)
    assert overlap >= 2, "batches of one shard ran concurrently"
    for key in keys:  # sequence numbers of one key strictly increase in invocation order
        seen = [int(s) for c in calls for k, s in zip(c["keys"], c["seqs"], strict=True)
                if k == key]
        assert seen == sorted(seen) and len(seen) == 3


def test_reserved_concurrency_caps_concurrent_invocations(scenario: Scenario) -> None:
    """AWS: reserved concurrency n caps the function's concurrent executions; invocations
    beyond it are throttled (Throttles) and retried."""
    sc = scenario
    sc.deploy("slow", reserved_concurrency=1, env={"SLEEP_S": "0.2"})
    sc.map(BatchSize=1, ParallelizationFactor=4)
    for i in range(8):
        sc.put(1, key=f"key-{i}")
    sc.start()
    eventually(lambda: len(sc.delivered_keys()) == 8, timeout_s=25, what="all records")
    calls = sc.calls()
    overlap = max(sum(1 for o in calls if o["start"] < c["end"] and o["end"] > c["start"])
                  for c in calls)
    assert overlap == 1
    assert sc.metric("stream_runtime_throttles_total") >= 1


def test_handler_gets_lambda_event_context_and_its_own_environment(scenario: Scenario) -> None:
    """Lambda Python runtime: handler(event, context) with the DynamoDB Streams event shape,
    the context attributes, and the function's environment variables."""
    sc = scenario
    sc.deploy("inspect_context", env={"GREETING": "hello"}, timeout_s=7, memory_mb=256)
    sc.map(BatchSize=10)
    sc.put(1)
    sc.start()
    (call,) = eventually(sc.calls)
    record = call["delivered_event"]["Records"][0]
    assert set(record) == {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion",
                           "dynamodb", "eventSourceARN"}
    assert record["eventSource"] == "aws:dynamodb" and record["eventName"] == "INSERT"
    assert record["eventSourceARN"] == sc.stream_arn and record["awsRegion"] == "us-east-1"
    ddb = record["dynamodb"]
    assert isinstance(ddb["ApproximateCreationDateTime"], int)
    assert ddb["Keys"] == {"pk": {"S": "item-0001"}}
    assert ddb["NewImage"]["n"] == {"N": "1"} and ddb["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(ddb["SizeBytes"], int) and ddb["SequenceNumber"].isdigit()
    ctx = call["ctx"]
    assert ctx["function_name"] == sc.function
    assert ctx["invoked_function_arn"].endswith(f":function:{sc.function}")
    assert ctx["memory_limit_in_mb"] == "256" and ctx["function_version"] == "$LATEST"
    assert ctx["log_group_name"] == f"/aws/lambda/{sc.function}"
    assert 5000 < ctx["remaining_ms"] <= 7000
    assert call["env"]["GREETING"] == "hello"
    assert call["env"]["AWS_LAMBDA_FUNCTION_NAME"] == sc.function
    assert call["env"]["_HANDLER"].endswith(".inspect_context")


def test_handler_timeout_is_a_function_error_and_kills_the_environment(
        scenario: Scenario) -> None:
    """Lambda: an invocation running past the function Timeout fails ('Task timed out') and
    counts as an error; the batch is retried."""
    sc = scenario
    sc.deploy("sleep_past_timeout", timeout_s=1)
    sc.map(BatchSize=10)
    keys = sc.put(1)
    sc.start()
    eventually(lambda: sc.metric("stream_runtime_errors_total") >= 1, what="a timeout error")
    pids = {c["pid"] for c in sc.calls()}
    sc.heal()
    eventually(lambda: sc.metric("stream_runtime_records_total", outcome="processed") == 1)
    assert sc.delivered_keys()[-1] == keys[0]
    assert {c["pid"] for c in sc.calls()} - pids, "the timed-out environment was replaced"


def test_checkpoint_file_lets_a_restarted_runtime_resume(scenario: Scenario) -> None:
    """A restarted runtime with --checkpoint-file continues after its checkpoint (as the
    managed ESM does), neither skipping nor redelivering processed records."""
    sc = scenario
    sc.deploy("record_calls")
    sc.map(BatchSize=10, StartingPosition="TRIM_HORIZON")
    checkpoint_file = sc.dir / "checkpoints.json"
    first = sc.put(3)
    sc.start(checkpoint_file=checkpoint_file)
    eventually(lambda: sc.delivered_keys() == first)
    sc.stop()
    second = sc.put(2)  # written while the runtime is down
    sc.start(checkpoint_file=checkpoint_file)
    eventually(lambda: sc.delivered_keys() == first + second, what="resume after checkpoint")


def test_batching_window_gathers_records_before_invoking(scenario: Scenario) -> None:
    """AWS: MaximumBatchingWindowInSeconds is 'the maximum amount of time to gather records
    before invoking the function'; for streams 'the next window begins as soon as the previous
    function invocation completes'. So on an idle shard the first record goes at once (its
    window elapsed long ago) and the records after it are gathered for one window."""
    sc = scenario
    sc.deploy("record_calls")
    sc.map(BatchSize=100, MaximumBatchingWindowInSeconds=1)
    sc.start()
    eventually(sc.positioned, what="iterators")
    time.sleep(1.1)  # the window that began at start has elapsed
    keys = []
    for _ in range(3):
        keys += sc.put(1)
        time.sleep(0.1)
    first, second = eventually(lambda: len(sc.calls()) >= 2 and sc.calls(), what="2 batches")
    assert first["keys"] == keys[:1] and second["keys"] == keys[1:]
    assert second["t"] - first["t"] >= 0.9  # gathered for a whole window
    holds(lambda: len(sc.calls()) == 2, 0.3, what="no further invocation")
