"""local_stack.retention on moto's own objects, in-process, with the clock given: which stream
records a trim may drop (never one a mapping has not passed), CloudWatch datapoints inside an
alarm's look-back, X-Ray traces, SQS messages and deleted receipt handles. Each store is filled
past its window and shown to shrink back, and what a reader still needs is shown to stay.

The backends are built here and handed to the trims, so no other test's moto state is touched;
the class patches the trims rely on are undone after each test (monkeypatch)."""

from __future__ import annotations

import datetime as _dt
import gc
import json
import time
import uuid
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError

from local_stack.retention import RetentionSettings, cloudwatch, instances, sqs, streams, xray

ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def _undo_patches(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import ShardIterator
    from moto.xray.models import XRayBackend
    from moto.xray.responses import XRayResponse

    for cls, name in ((StreamShard, "get"), (StreamShard, "to_json"), (ShardIterator, "get"),
                      (CloudWatchResponse, "call_action"), (XRayResponse, "call_action"),
                      (XRayBackend, "add_telemetry_records")):
        monkeypatch.setattr(cls, name, getattr(cls, name))
    # a fake mapping must not make moto try to invoke a Lambda function on every write
    monkeypatch.setattr(LambdaBackend, "send_dynamodb_items", lambda *args: "")
    streams.install()
    cloudwatch.install()
    xray.install()


# -- DynamoDB stream records ----------------------------------------------------------------------

class Stream:
    """One streamed table in a private moto backend, with a fake event source mapping."""

    def __init__(self, tmp_path: Path) -> None:
        from moto.dynamodb.models import DynamoDBBackend

        self.backend = DynamoDBBackend("us-east-1", ACCOUNT)
        self.table = self.backend.create_table(
            "orders", schema=[{"AttributeName": "K", "KeyType": "HASH"}], throughput=None,
            attr=[{"AttributeName": "K", "AttributeType": "S"}], global_indexes=None,
            indexes=None, streams={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[],
            deletion_protection_enabled=None, warm_throughput=None)
        self.shard = self.table.stream_shard
        self.first = self.shard.starting_sequence_number
        self.arn = f"{self.table.table_arn}/stream/{self.table.latest_stream_label}"
        self.iterators = SimpleNamespace(shard_iterators={})
        self.checkpoints = tmp_path / "checkpoints.json"
        self.written = 0

    def put(self, n: int) -> None:
        for _ in range(n):
            self.written += 1
            self.table.put_item({"K": {"S": f"item-{self.written}"}})

    def map(self, uuid_: str = "m1") -> None:
        self.table.lambda_event_source_mappings[
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn-{uuid_}"] = SimpleNamespace(
            uuid=uuid_, event_source_arn=self.arn)

    def checkpoint(self, after: int | None, finished: bool = False, uuid_: str = "m1") -> None:
        self.checkpoints.write_text(json.dumps({"version": 1, "shards": {
            f"{uuid_}/{self.shard.id}": {"stream": self.arn, "finished": finished,
                                         "after": None if after is None else str(after)}}}))

    def seq(self, n: int) -> int:
        """Sequence number of the n-th record written (1-based)."""
        return self.first + n - 1

    def trim(self, window_s: float, now: float) -> tuple[int, int]:
        return streams.trim(window_s, self.checkpoints, now=now, backends=[self.backend],
                            streams_backends=[self.iterators])

    def iterator(self, kind: str, seq: int | None = None, issued: float = 0.0) -> Any:
        from moto.dynamodbstreams.models import ShardIterator

        it = ShardIterator(self.iterators, self.shard, kind, seq)
        setattr(it, streams.ISSUED, issued)
        self.iterators.shard_iterators[it.id] = it
        return it


@pytest.fixture
def stream(tmp_path: Path) -> Stream:
    return Stream(tmp_path)


def test_a_mapping_behind_keeps_its_records_and_passed_ones_go_a_window_later(
        stream: Stream) -> None:
    stream.map()
    stream.put(10)
    stream.checkpoint(after=stream.seq(4))  # the mapping finished records 1-4, jams on 5
    assert stream.trim(60, now=0) == (0, 10)  # nothing is a window old yet
    assert stream.trim(60, now=59) == (0, 10)
    assert stream.trim(60, now=61) == (4, 6)  # 1-4 were passed 60 s ago
    for later in (200, 400):  # the jam goes on: 5 onwards stay, however old
        stream.put(5)
        assert stream.trim(60, now=later)[1] == stream.written - 4
    # the mapping resumes from its checkpoint and gets every record it has not passed
    resumed = stream.iterator("AFTER_SEQUENCE_NUMBER", stream.seq(4)).get(1000)["Records"]
    assert [r["dynamodb"]["Keys"]["K"]["S"] for r in resumed] == \
        [f"item-{n}" for n in range(5, stream.written + 1)]
    # a read of what was trimmed says so, as on AWS; numbering and DescribeStream unchanged
    with pytest.raises(JsonRESTError) as err:
        stream.iterator("AT_SEQUENCE_NUMBER", stream.seq(1)).get(10)
    assert err.value.error_type == "TrimmedDataAccessException"
    first = stream.iterator("TRIM_HORIZON").get(1)["Records"][0]
    assert int(first["dynamodb"]["SequenceNumber"]) == stream.seq(5)
    assert stream.shard.to_json()["SequenceNumberRange"]["StartingSequenceNumber"] == \
        str(stream.first)
    stream.put(1)
    assert int(stream.iterator("LATEST").sequence_number) == stream.seq(stream.written) + 1


def test_caught_up_records_are_bounded_by_the_window(stream: Stream) -> None:
    """Filled far past its window, a stream whose mapping keeps up holds about a window."""
    stream.map()
    held = []
    for second in range(0, 600, 10):  # 10 records every 10 s for 10 minutes
        stream.put(10)
        stream.checkpoint(after=stream.seq(stream.written))
        held.append(stream.trim(60, now=second)[1])
    assert stream.written == 600
    assert max(held[10:]) <= 80  # a window (60 s) of writes and one sweep's worth


def test_mappings_without_checkpoints_and_unused_iterators_hold_records(stream: Stream) -> None:
    stream.put(6)
    # no mapping, no reader: records go a window after they were written
    stream.trim(10, now=0)
    assert stream.trim(10, now=10) == (6, 0)
    # a mapping that has no checkpoint yet may still read everything
    stream.map()
    stream.put(3)
    stream.trim(10, now=20)
    assert stream.trim(10, now=40) == (0, 3)
    # ... until it has finished the shard
    stream.checkpoint(after=None, finished=True)
    stream.trim(10, now=50)
    assert stream.trim(10, now=60) == (3, 0)
    # an iterator nobody used yet holds from its position; once used, its successor holds
    stream.put(4)
    waiting = stream.iterator("AT_SEQUENCE_NUMBER", stream.seq(11), issued=65)
    stream.trim(10, now=70)
    assert stream.trim(10, now=80) == (1, 3)  # record 10 went, 11-13 wait for the reader
    assert len(waiting.get(2)["Records"]) == 2  # reads 11-12; its successor is at 13
    successor = list(stream.iterators.shard_iterators.values())[-1]
    setattr(successor, streams.ISSUED, 81)
    stream.trim(10, now=85)
    assert stream.trim(10, now=95) == (2, 1)  # 11-12 passed; 13 waits for the successor
    # a reader that does not come back within the window loses its place
    assert stream.trim(10, now=105) == (1, 0)


def test_settings_come_from_flags_then_environment(tmp_path: Path) -> None:
    env = {"GAMEDAY_STREAM_RETENTION_S": "42", "GAMEDAY_TRACE_RETENTION_S": " "}
    settings = RetentionSettings.from_env(env, traces_s=None, metric_datapoints_s=7.0)
    assert (settings.stream_records_s, settings.metric_datapoints_s, settings.traces_s) == \
        (42.0, 7.0, RetentionSettings().traces_s)
    with pytest.raises(ValueError, match="GAMEDAY_SQS_RETENTION_S"):
        RetentionSettings.from_env({"GAMEDAY_SQS_RETENTION_S": "an hour"})
    with pytest.raises(ValueError, match="stream_records_s"):
        RetentionSettings.from_env({}, stream_records_s=-1.0)


# -- CloudWatch -----------------------------------------------------------------------------------

def test_datapoints_go_after_the_window_but_never_inside_an_alarm_look_back() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    backend = CloudWatchBackend("us-east-1", ACCOUNT)
    now = _dt.datetime.now(_dt.UTC)

    def put(name: str, age_s: float, count: int) -> None:
        backend.put_metric_data("Shop", [
            {"MetricName": name, "Value": 1.0,
             "Timestamp": (now - _dt.timedelta(seconds=age_s)).isoformat()}] * count)

    put("Old", 3600, 500)  # far past the window
    put("Recent", 100, 20)
    put("Fresh", 1, 5)
    assert cloudwatch.trim(60, now=now, backends=[backend]) == (520, 5)
    # an alarm reading 10 s x (3 + extra) periods widens the window to twice its look-back
    backend.put_metric_alarm(
        name="jam", namespace="Shop", metric_name="Fresh",
        comparison_operator="GreaterThanThreshold", evaluation_periods=3, period=10,
        threshold=1.0, statistic="Maximum", description="",
        dimensions=[], alarm_actions=[], metric_data_queries=None, datapoints_to_alarm=None,
        extended_statistic=None, ok_actions=None, insufficient_data_actions=None, unit=None)
    lookback = cloudwatch.longest_lookback_s(backend.alarms.values())
    assert lookback >= 40
    put("Recent", lookback, 20)
    assert cloudwatch.trim(1, now=now, backends=[backend]) == (0, 25)
    put("Old", 3600, 10)
    assert cloudwatch.trim(1, now=now, backends=[backend]) == (10, 25)


# -- X-Ray ----------------------------------------------------------------------------------------

def test_traces_go_a_window_after_their_last_segment() -> None:
    from moto.xray.models import XRayBackend

    backend = XRayBackend("us-east-1", ACCOUNT)
    now = time.time()

    def trace(age_s: float) -> str:
        trace_id = f"1-{int(now):08x}-{uuid.uuid4().hex[:24]}"
        backend.process_segment(json.dumps({
            "name": "storefront", "id": uuid.uuid4().hex[:16], "trace_id": trace_id,
            "start_time": now - age_s - 0.2, "end_time": now - age_s}))
        return trace_id

    old = [trace(3600) for _ in range(300)]
    kept = trace(5)
    assert xray.trim(60, now=now, backends=[backend]) == (300, 1)
    found, missing = backend._segment_collection.get_trace_ids([*old[:3], kept])
    assert [t["trace_id"] for t in found] == [kept]
    assert missing == old[:3]


# -- SQS ------------------------------------------------------------------------------------------

def test_messages_go_after_the_queue_retention_or_the_local_cap() -> None:
    from moto.sqs.models import SQSBackend

    backend = SQSBackend("us-east-1", ACCOUNT)
    backend.create_queue("on-failure", MessageRetentionPeriod="600")
    now_ms = time.time() * 1000
    for age_s in (1200, 900, 300, 10):
        message = backend.send_message("on-failure", f"aged {age_s}")
        message.sent_timestamp = int(now_ms - age_s * 1000)
    assert sqs.trim(None, 900, now_ms=now_ms, backends=[backend]) == (2, 2)  # the queue's 600 s
    assert sqs.trim(60, 900, now_ms=now_ms, backends=[backend]) == (1, 1)  # the local cap
    left = backend.receive_message("on-failure", 10, 0, 30)
    assert [m.body for m in left] == ["aged 10"]


def test_receipt_handles_of_deleted_messages_are_forgotten_after_a_while() -> None:
    queue = SimpleNamespace(deleted_messages={"a", "b"})
    sqs._forget_deleted_handles(queue, 60, now=0)
    queue.deleted_messages |= {"c"}
    sqs._forget_deleted_handles(queue, 60, now=30)
    assert queue.deleted_messages == {"a", "b", "c"}
    sqs._forget_deleted_handles(queue, 60, now=61)
    assert queue.deleted_messages == {"c"}
    sqs._forget_deleted_handles(queue, 60, now=91)
    assert queue.deleted_messages == set()


# -- moto's registry of model objects --------------------------------------------------------

def test_moto_forgets_model_objects_nobody_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every moto model object used to stay in its class's instances_tracked forever (every
    item version, stream record, datapoint, message): the emulator grew by each write."""
    from moto.core.base_backend import InstanceTrackerMeta
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    monkeypatch.setattr(InstanceTrackerMeta, "instances_tracked", None, raising=False)

    def dropped_is_freed() -> bool:
        item = Item(DynamoType({"S": "k"}), None, {"K": {"S": "k"}})
        ref = weakref.ref(item)
        del item
        gc.collect()
        return ref() is None

    assert not dropped_is_freed()  # negative control: plain moto keeps it
    instances.install()
    assert dropped_is_freed()
    alive = Item(DynamoType({"S": "live"}), None, {"K": {"S": "live"}})
    assert alive in Item.instances_tracked  # /moto-api/data.json still lists live objects
    Item.instances_tracked = []  # moto's reset_model_data
    assert alive not in Item.instances_tracked and dropped_is_freed()
