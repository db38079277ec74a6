"""Unit tests of the non-rule parts: shard lineage, record shape, handler resolution and
context, checkpoint file, deploy validation, moto hook patch. No moto server needed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from local_stack.stream_runtime.checkpoints import CheckpointStore
from local_stack.stream_runtime.deploy import validate_esm_settings
from local_stack.stream_runtime.handlers import (
    FunctionConfig,
    FunctionInvoker,
    LambdaContext,
    lambda_environment,
    resolve_handler,
)
from local_stack.stream_runtime.shard_reader import (
    ShardInfo,
    ShardStart,
    plan_shards,
    to_stream_record,
)

STREAM = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000"


def shard(sid: str, parent: str | None = None, closed: bool = False) -> ShardInfo:
    return ShardInfo(sid, parent, 1, 99 if closed else None)


# -- lineage ---------------------------------------------------------------------------------------
def test_trim_horizon_starts_parents_before_children() -> None:
    """DynamoDB Streams: process a parent shard before its children, so per-item order holds."""
    shards = [shard("a", closed=True), shard("b", "a", closed=True), shard("c", "b")]
    start, skip = plan_shards(shards, starting_position="TRIM_HORIZON", first_look=True,
                              finished=set(), running=set(), checkpoints={})
    assert start == {"a": ShardStart("TRIM_HORIZON")} and skip == set()
    start, _ = plan_shards(shards, starting_position="TRIM_HORIZON", first_look=False,
                           finished={"a"}, running=set(), checkpoints={})
    assert start == {"b": ShardStart("TRIM_HORIZON")}


def test_latest_reads_only_open_shards_then_children_from_their_start() -> None:
    shards = [shard("a", closed=True), shard("b", "a")]
    start, skip = plan_shards(shards, starting_position="LATEST", first_look=True,
                              finished=set(), running=set(), checkpoints={})
    assert start == {"b": ShardStart("LATEST")} and skip == {"a"}
    shards.append(shard("c", "b"))
    start, _ = plan_shards(shards, starting_position="LATEST", first_look=False,
                           finished={"a", "b"}, running=set(), checkpoints={})
    assert start == {"c": ShardStart("TRIM_HORIZON")}


def test_checkpoint_wins_and_trimmed_parent_does_not_block() -> None:
    shards = [shard("orphan", parent="trimmed-away"), shard("x")]
    start, _ = plan_shards(shards, starting_position="LATEST", first_look=True, finished=set(),
                           running={"x"}, checkpoints={"orphan": 42})
    assert start == {"orphan": ShardStart("AFTER_SEQUENCE_NUMBER", 42)}


# -- record shape ----------------------------------------------------------------------------------
def test_record_has_the_lambda_event_shape() -> None:
    """Lambda's DynamoDB event record: eventID, eventName, eventVersion, eventSource,
    awsRegion, dynamodb{...}, eventSourceARN."""
    raw: dict[str, Any] = {
        "eventID": "e1", "eventName": "MODIFY", "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": dt.datetime(2024, 1, 1, 0, 0, 1, 500000,
                                                       tzinfo=dt.UTC),
            "Keys": {"pk": {"S": "a"}, "sk": {"N": "1"}},
            "NewImage": {"pk": {"S": "a"}, "blob": {"B": b"\x00\x01"},
                         "nested": {"M": {"bs": {"BS": [b"x"]}}}},
            "OldImage": {"pk": {"S": "a"}},
            "SequenceNumber": "300", "SizeBytes": 42, "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    record = to_stream_record(raw, STREAM, hash_key="pk")
    payload = record.payload
    assert set(payload) == {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion",
                            "dynamodb", "eventSourceARN"}
    assert payload["awsRegion"] == "eu-west-1" and payload["eventSourceARN"] == STREAM
    ddb = payload["dynamodb"]
    assert ddb["ApproximateCreationDateTime"] == 1704067201  # epoch seconds, rounded down
    assert ddb["NewImage"]["blob"] == {"B": "AAE="}
    assert ddb["NewImage"]["nested"]["M"]["bs"] == {"BS": ["eA=="]}
    assert (ddb["SequenceNumber"], ddb["SizeBytes"], ddb["StreamViewType"]) == (
        "300", 42, "NEW_AND_OLD_IMAGES")
    assert record.seq == 300 and record.created_at == pytest.approx(1704067201.5)
    assert record.partition_key == "pk={S:a}"
    json.dumps(payload)  # serialisable as Lambda would send it


# -- handlers --------------------------------------------------------------------------------------
def test_resolve_handler_like_the_python_runtime() -> None:
    fn = resolve_handler("tests.stream_runtime.handlers_for_tests.record_calls")
    assert fn.__name__ == "record_calls"
    assert resolve_handler("tests/stream_runtime/handlers_for_tests.slow").__name__ == "slow"
    with pytest.raises(ValueError):
        resolve_handler("nodot")
    with pytest.raises(AttributeError):
        resolve_handler("tests.stream_runtime.handlers_for_tests.missing")


def test_context_and_environment() -> None:
    ctx = LambdaContext(function_name="f", function_arn="arn:f", memory_mb=256,
                        aws_request_id="r", deadline_epoch_ms=0, log_group_name="/aws/lambda/f",
                        log_stream_name="s")
    assert ctx.get_remaining_time_in_millis() == 0 and ctx.memory_limit_in_mb == "256"
    cfg = FunctionConfig(name="f", arn="arn:f", handler="m.h", env={"A": "1", "PATH": "x"},
                         memory_mb=256)
    env = lambda_environment(cfg, "stream", base={"PATH": "/bin", "B": "2"})
    assert env["A"] == "1" and env["PATH"] == "x" and env["B"] == "2"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "f" and env["_HANDLER"] == "m.h"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"


def test_reserved_concurrency_gate() -> None:
    """Reserved concurrency n caps concurrent invocations; 0 throttles every one."""
    invoker = FunctionInvoker()
    zero = FunctionConfig(name="z", arn="a", handler="m.h", reserved_concurrency=0)
    two = FunctionConfig(name="t", arn="a", handler="m.h", reserved_concurrency=2)
    free = FunctionConfig(name="u", arn="a", handler="m.h")
    assert not invoker.try_acquire(zero)
    assert invoker.try_acquire(two) and invoker.try_acquire(two) and not invoker.try_acquire(two)
    invoker.release(two)
    assert invoker.try_acquire(two)
    assert all(invoker.try_acquire(free) for _ in range(50))
    invoker.shutdown(0)
    assert not invoker.try_acquire(free)


# -- checkpoints -----------------------------------------------------------------------------------
def test_checkpoint_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.json"
    store = CheckpointStore(path)
    store.set("uuid", "shard-1", STREAM, 1234)
    store.set("uuid", "shard-0", STREAM, None, finished=True)
    store.close()
    again = CheckpointStore(path)
    assert again.get("uuid", "shard-1", STREAM) == 1234
    assert again.is_finished("uuid", "shard-0", STREAM)
    assert again.get("uuid", "shard-1", STREAM + "-other-table") is None


# -- deploy validation -----------------------------------------------------------------------------
@pytest.mark.parametrize("settings", [
    {"MaximumRecordAgeInSeconds": 5},
    {"MaximumRetryAttempts": -2},
    {"ParallelizationFactor": 11},
    {"BatchSize": 0},
    {"StartingPosition": "AT_TIMESTAMP"},
    {"FunctionResponseTypes": ["Nope"]},
    {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:1:function:x"}}},
    {"Bogus": 1},
    {"MetricsConfig": {"Metrics": ["KafkaMetrics"]}},  # a Kafka group
    {"MetricsConfig": ["EventCount"]},
])
def test_create_mapping_refuses_what_aws_refuses(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        validate_esm_settings(settings)


def test_valid_settings_pass() -> None:
    validate_esm_settings({"BatchSize": 10, "MaximumRecordAgeInSeconds": -1,
                           "MaximumRetryAttempts": 0, "ParallelizationFactor": 10,
                           "StartingPosition": "LATEST", "BisectBatchOnFunctionError": True,
                           "FunctionResponseTypes": ["ReportBatchItemFailures"],
                           "DestinationConfig": {"OnFailure": {
                               "Destination": "arn:aws:sqs:us-east-1:123456789012:q"}},
                           "MetricsConfig": {"Metrics": ["EventCount"]}})
    validate_esm_settings({"MetricsConfig": {"Metrics": []}})  # switched off again


# -- moto hook -------------------------------------------------------------------------------------
def test_moto_hook_patch_is_checked_and_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.dynamodb.models.table import StreamShard

    from local_stack import aws_server

    monkeypatch.setattr(LambdaBackend, "send_dynamodb_items", LambdaBackend.send_dynamodb_items)
    aws_server.disable_moto_stream_invocation()
    aws_server.disable_moto_stream_invocation()
    assert LambdaBackend.send_dynamodb_items(None, "arn", [object()], "src") == ""

    def add_without_hook(self: Any, old: Any, new: Any) -> None:
        """A future moto whose stream → Lambda path moved elsewhere."""

    monkeypatch.setattr(LambdaBackend, "send_dynamodb_items", lambda *a: "original")
    monkeypatch.setattr(StreamShard, "add", add_without_hook)
    with pytest.raises(aws_server.MotoHookNotFound):
        aws_server.disable_moto_stream_invocation()


def test_stream_iterators_expire_like_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB Streams: a shard iterator expires 15 minutes after it is issued
    (ExpiredIteratorException); the patch bounds moto's otherwise ever-growing iterator map."""
    import time
    from types import SimpleNamespace

    from moto.core.exceptions import JsonRESTError
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    from local_stack import aws_server

    # start from plain moto even when an earlier test in this process installed the patch
    # (with AWS's 900 s lifetime, which would make the 5-second-old iterator below valid)
    for cls, name in ((DynamoDBStreamsBackend, "get_records"), (ShardIterator, "__init__")):
        current = getattr(cls, name)
        monkeypatch.setattr(cls, name, getattr(current, "__wrapped__", current))
    monkeypatch.setattr(aws_server, "_PRUNE_EVERY_S", 0.0)
    assert aws_server.expire_stream_iterators(lifetime_s=0.5)
    fresh = SimpleNamespace(local_stack_created=time.monotonic(),
                            get=lambda limit: {"Records": [], "NextShardIterator": "n"})
    old = SimpleNamespace(local_stack_created=time.monotonic() - 5)
    backend = SimpleNamespace(shard_iterators={"fresh": fresh, "old": old})
    assert DynamoDBStreamsBackend.get_records(backend, "fresh", 10)["NextShardIterator"] == "n"
    for arn in ("old", "unknown"):
        with pytest.raises(JsonRESTError) as err:
            DynamoDBStreamsBackend.get_records(backend, arn, 10)
        assert err.value.error_type == "ExpiredIteratorException"
    assert "old" not in backend.shard_iterators  # pruned
