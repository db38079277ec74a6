"""Retention end to end: `python -m local_stack.aws_server` with one-second windows, the stream
runtime reading its checkpoints file. A mapping jammed for many windows still gets every
record once it heals, while what it had passed is trimmed; CloudWatch, X-Ray and SQS filled past
their windows shrink back, fresh data stays readable (the emulator's /_local_stack/retention
counts and the AWS APIs agree)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_stack.ports import free_port, wait_for_port
from tests.stream_runtime.conftest import (
    LOCAL_AWS_ENV,
    REPO,
    Clients,
    Scenario,
    eventually,
    stop_process,
)

pytestmark = pytest.mark.integration

WINDOW_S = 1.0


class Emulator:
    def __init__(self, url: str, checkpoints: Path) -> None:
        self.url = url
        self.checkpoints = checkpoints
        self.clients = Clients(url)

    def report(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_local_stack/retention", timeout=5) as answer:
            return json.load(answer)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    tmp = tmp_path_factory.mktemp("retention")
    checkpoints = tmp / "checkpoints.json"
    port = free_port()
    with (tmp / "aws.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "local_stack.aws_server", "--port", str(port),
             "--log-level", "WARNING", "--stream-retention", str(WINDOW_S),
             "--metric-retention", str(WINDOW_S), "--trace-retention", str(WINDOW_S),
             "--sqs-retention", str(WINDOW_S), "--retention-sweep", "0.2",
             "--stream-checkpoints", str(checkpoints)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **LOCAL_AWS_ENV})
    try:
        wait_for_port(port, 30)
        yield Emulator(f"http://127.0.0.1:{port}", checkpoints)
    finally:
        stop_process(proc)


def _trimmed(sc: Scenario, seq: str) -> bool:
    streams = sc.c.streams
    shard = streams.describe_stream(StreamArn=sc.stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(StreamArn=sc.stream_arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="AT_SEQUENCE_NUMBER",
                                          SequenceNumber=seq)["ShardIterator"]
    try:
        streams.get_records(ShardIterator=iterator, Limit=1)
    except ClientError as exc:
        return exc.response["Error"]["Code"] == "TrimmedDataAccessException"
    return False


def test_a_jammed_mapping_gets_every_record_while_passed_ones_are_trimmed(
        emulator: Emulator, tmp_path: Path) -> None:
    sc = Scenario(emulator.clients, tmp_path)
    try:
        sc.deploy("fail_on_poison")
        sc.map(BatchSize=5)
        sc.start(checkpoint_file=emulator.checkpoints)
        passed = sc.put(5)
        eventually(lambda: set(passed) <= set(sc.delivered_keys()), what="the first records")
        first_seq = sc.calls()[0]["seqs"][0]
        jammed = sc.put(1, poison=True) + sc.put(20)
        eventually(lambda: len(sc.calls()) >= 4, what="the jam (the poison batch retried)")
        poison_seq = sc.calls()[-1]["seqs"][0]
        # records the mapping passed go a window later; the jammed ones stay for many windows
        eventually(lambda: _trimmed(sc, first_seq), timeout_s=20, what="passed records trimmed")
        more = sc.put(20)
        time.sleep(3 * WINDOW_S)
        assert not _trimmed(sc, poison_seq)
        assert not set(more) & set(sc.delivered_keys())  # still jammed
        sc.heal()
        eventually(lambda: set(jammed + more) <= set(sc.delivered_keys()), timeout_s=30,
                   what="every record after the jam")
        # caught up: what it held goes too
        eventually(lambda: _trimmed(sc, sc.calls()[-1]["seqs"][-1]), timeout_s=20,
                   what="the last record trimmed once passed")
        assert emulator.report()["dropped"]["stream_records"] >= 46
    finally:
        sc.stop()


def test_every_store_filled_past_its_window_shrinks_back(emulator: Emulator) -> None:
    c = emulator.clients
    xray = _client(emulator.url, "xray")
    now = time.time()
    old_traces = [f"1-{int(now):08x}-{uuid.uuid4().hex[:24]}" for _ in range(100)]
    for start in range(0, len(old_traces), 50):
        xray.put_trace_segments(TraceSegmentDocuments=[json.dumps({
            "name": "storefront", "id": uuid.uuid4().hex[:16], "trace_id": trace_id,
            "start_time": now - 3600.2, "end_time": now - 3600}) for trace_id in
            old_traces[start:start + 50]])
    for _ in range(10):
        c.cw.put_metric_data(Namespace="Retention", MetricData=[
            {"MetricName": "Old", "Value": 1.0, "Timestamp": now - 3600}] * 20)
    queue = c.sqs.create_queue(QueueName=f"retention-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for _ in range(30):
        c.sqs.send_message(QueueUrl=queue, MessageBody="x" * 200)

    def shrunk() -> dict[str, Any] | None:
        report = emulator.report()
        dropped = report["dropped"]
        ok = (dropped.get("traces", 0) >= 100 and dropped.get("metric_datapoints", 0) >= 200
              and dropped.get("sqs_messages", 0) >= 30)
        return report if ok else None

    report = eventually(shrunk, timeout_s=20, what="old traces, datapoints, messages dropped")
    assert report["held"]["traces"] < 100 and report["held"]["sqs_messages"] < 30
    assert xray.batch_get_traces(TraceIds=old_traces[:5])["UnprocessedTraceIds"] == \
        old_traces[:5]
    # fresh data is there to read
    c.sqs.send_message(QueueUrl=queue, MessageBody="fresh")
    assert [m["Body"] for m in c.sqs.receive_message(QueueUrl=queue)["Messages"]] == ["fresh"]
    c.cw.put_metric_data(Namespace="Retention", MetricData=[{"MetricName": "Fresh", "Value": 7}])
    stats = c.cw.get_metric_statistics(Namespace="Retention", MetricName="Fresh",
                                       StartTime=now - 60, EndTime=time.time() + 60,
                                       Period=60, Statistics=["Maximum"])["Datapoints"]
    assert [p["Maximum"] for p in stats] == [7.0]


def _client(url: str, service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=url, region_name="us-east-1")
