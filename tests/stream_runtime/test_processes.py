"""Integration tests of the process entry points and of CloudWatch publishing:
``python -m local_stack.aws_server`` and ``python -m local_stack.stream_runtime`` as real
subprocesses, and the AWS/Lambda metrics as moto's CloudWatch returns them."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local_stack.ports import free_port, wait_for_port
from local_stack.stream_runtime import StreamRuntime
from local_stack.stream_runtime.deploy import create_mapping, deploy_function
from tests.stream_runtime.conftest import (
    FAST,
    HANDLERS,
    LOCAL_AWS_ENV,
    REPO,
    Clients,
    Scenario,
    eventually,
    metric_value,
    start_aws_server,
    stop_process,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def _stats(clients: Clients, namespace: str, metric: str, function: str) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    return clients.cw.get_metric_statistics(
        Namespace=namespace, MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=1),
        Period=60, Statistics=["Sum", "Maximum", "SampleCount"],
    )["Datapoints"]


def _sum(points: list[dict[str, Any]]) -> float:
    return sum(p["Sum"] for p in points)


def test_cloudwatch_metrics_land_in_moto_and_iterator_age_is_absent_while_throttled(
        scenario: Scenario) -> None:
    """AWS/Lambda metrics as Lambda emits them: Throttles for throttled attempts and no
    Invocations/IteratorAge while throttled (an IteratorAge alarm sees missing data); once
    invoked, Invocations, Errors, Duration and IteratorAge (ms) per FunctionName; plus the
    runtime's Shop/StreamRuntime record counts."""
    sc = scenario
    sc.deploy("record_calls", reserved_concurrency=0)
    sc.map(BatchSize=10)
    sc.put(2)
    sc.start(cloudwatch_interval_s=0.3)
    fn = sc.function
    eventually(lambda: _sum(_stats(sc.c, "AWS/Lambda", "Throttles", fn)) >= 2, timeout_s=20,
               what="Throttles in CloudWatch")
    for metric in ("IteratorAge", "Invocations", "Duration"):
        assert _stats(sc.c, "AWS/Lambda", metric, fn) == [], f"{metric} while throttled"
    sc.c.lam.delete_function_concurrency(FunctionName=fn)
    eventually(lambda: _stats(sc.c, "AWS/Lambda", "IteratorAge", fn), timeout_s=20,
               what="IteratorAge after the first invocation")
    eventually(lambda: _sum(_stats(sc.c, "Shop/StreamRuntime", "RecordsProcessed", fn)) == 2,
               timeout_s=20, what="RecordsProcessed")
    (age,) = _stats(sc.c, "AWS/Lambda", "IteratorAge", fn)
    assert age["Maximum"] > 100  # ms: the records waited through the throttling
    assert _sum(_stats(sc.c, "AWS/Lambda", "Invocations", fn)) == 1
    assert _sum(_stats(sc.c, "AWS/Lambda", "Errors", fn)) == 0
    assert _stats(sc.c, "AWS/Lambda", "Errors", fn)[0]["SampleCount"] == 1
    assert _stats(sc.c, "AWS/Lambda", "Duration", fn)
    assert _sum(_stats(sc.c, "Shop/StreamRuntime", "RecordsRead", fn)) >= 2


def test_cloudwatch_failures_are_logged_not_raised(clients: Clients) -> None:
    """A broken CloudWatch endpoint must never crash the runtime."""
    from local_stack.stream_runtime.metrics import CloudWatchEmitter

    def broken() -> Any:
        raise ConnectionError("endpoint down")

    emitter = CloudWatchEmitter(broken, interval_s=0.05)
    emitter.start()
    emitter.add("AWS/Lambda", "Invocations", 1, "Count", {"FunctionName": "f"}, at=0)
    eventually(lambda: emitter.failures >= 1)
    emitter.close()
    assert emitter.sent == 0


def test_aws_server_keeps_stream_records_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    """local_stack.aws_server: with moto's ESM invocation switched off, a write to a table
    that has an (enabled) event source mapping tries no Docker invocation and leaves the
    records in the stream for the runtime; SIGTERM stops the server with status 0."""
    log_path = tmp_path / "aws.log"
    proc, url = start_aws_server(log_path)
    try:
        c = Clients(url)
        table = c.ddb.create_table(
            TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        stream_arn = table["TableDescription"]["LatestStreamArn"]
        deploy_function(c.lam, "f", f"{HANDLERS}.record_calls", {}, iam_client=c.iam)
        create_mapping(c.lam, "f", stream_arn, BatchSize=10)
        for i in range(20):
            c.ddb.put_item(TableName="t", Item={"pk": {"S": f"k{i}"}})
        shard = c.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
        iterator = c.streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        assert len(c.streams.get_records(ShardIterator=iterator)["Records"]) == 20
    finally:
        code = stop_process(proc)
    assert code == 0
    log = log_path.read_text()
    assert "docker" not in log.lower()


def _runtime_process(endpoint: str, metrics_port: int, function: str, log_path: Path,
                     checkpoint_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "local_stack.stream_runtime", "--metrics-port", str(metrics_port),
         "--functions", function, "--poll-interval", "0.05", "--refresh-interval", "0.2",
         "--checkpoint-file", str(checkpoint_file), "--shutdown-grace", "0.5"],
        cwd=REPO, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, **LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": endpoint},
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_runtime_process_serves_metrics_and_sigterm_abandons_in_flight_batch(
        scenario: Scenario) -> None:
    """The real entry point: consumes, serves /metrics; on SIGTERM it stops within the grace
    period, kills its execution environments, and does not checkpoint the in-flight batch, so
    it is delivered again after a restart (at-least-once, like an ESM whose invocation did not
    complete)."""
    sc = scenario
    sc.deploy("sleep_past_timeout", timeout_s=60)
    sc.map(BatchSize=1)
    checkpoint_file = sc.dir / "checkpoints.json"
    log_path = sc.dir / "runtime.log"
    port = free_port()
    sc.heal()
    (done,) = sc.put(1)
    proc = _runtime_process(sc.c.endpoint, port, sc.function, log_path, checkpoint_file)
    try:
        wait_for_port(port, 30)
        eventually(lambda: sc.delivered_keys() == [done], timeout_s=20, what="first record")
        text = eventually(lambda: metric_value(
            _scrape(port), "stream_runtime_records_total", function=sc.function,
            outcome="processed") == 1 and _scrape(port), what="processed=1 on /metrics")
        assert "stream_runtime_iterator_age_seconds{" in text
        (sc.dir / "heal").unlink()
        (stuck,) = sc.put(1)
        eventually(lambda: sc.delivered_keys() == [done, stuck], what="in-flight invocation")
        worker_pid = sc.calls()[-1]["pid"]
        started = time.monotonic()
    finally:
        code = stop_process(proc)
    assert code == 0, log_path.read_text()[-3000:]
    assert time.monotonic() - started < 30  # not the handler's 60 s: it did not wait for it
    eventually(lambda: not _alive(worker_pid), timeout_s=5, what="worker process gone")
    # the handler pool says it abandons the invocation; the poller's own "abandoned" line may
    # not make it out before the process exits — the redelivery below is what proves it
    assert "abandoning in-flight invocation" in log_path.read_text()
    # restart (in-process) from the checkpoint file: only the abandoned record comes again
    sc.heal()
    sc.start(checkpoint_file=checkpoint_file)
    eventually(lambda: sc.delivered_keys() == [done, stuck, stuck], what="redelivery")


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return resp.read().decode()


def test_runtime_refuses_a_non_loopback_endpoint() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local_stack.stream_runtime", "--metrics-port", "0"],
        cwd=REPO, capture_output=True, timeout=30,
        env={**os.environ, "AWS_ENDPOINT_URL": "http://10.1.2.3:4566"},
    )
    assert result.returncode == 2 and b"loopback" in result.stderr


def test_live_update_of_the_mapping_unjams_the_shard(scenario: Scenario) -> None:
    """UpdateEventSourceMapping takes effect while running (the chaos tool flips settings):
    a jammed shard with infinite retries moves on once MaximumRetryAttempts and an OnFailure
    destination are set."""
    sc = scenario
    sc.deploy("fail_on_poison")
    sc.map(BatchSize=5)
    sc.put(1, poison=True)
    sc.start(options=FAST)
    eventually(lambda: len(sc.calls()) >= 3, what="the jam")
    sc.update_mapping(MaximumRetryAttempts=0,
                      DestinationConfig={"OnFailure": {"Destination": sc.queue()}})
    (msg,) = eventually(sc.on_failure_messages, what="OnFailure after the update")
    assert msg["requestContext"]["condition"] == "RetryAttemptsExhausted"
    later = sc.put(1)
    eventually(lambda: later[0] in sc.delivered_keys(), what="shard moved on")


def test_two_runtimes_do_not_share_metrics(clients: Clients) -> None:
    """Each StreamRuntime has its own Prometheus registry (in-process tests run several)."""
    a = StreamRuntime(clients.endpoint, functions=["none-a"], options=FAST, cloudwatch=False)
    b = StreamRuntime(clients.endpoint, functions=["none-b"], options=FAST, cloudwatch=False)
    try:
        a.start()
        b.start()
        a.metrics.throttled("x")
        assert json.dumps(b.metrics.throttles.collect()[0].samples, default=str).count('"x"') == 0
    finally:
        a.stop()
        b.stop()


def test_function_output_goes_to_its_log_group_file(scenario: Scenario) -> None:
    """With a log directory, what a function's environments write is appended to the file of
    its log group (/aws/lambda/<name>), as Lambda sends it to CloudWatch Logs: what the local
    Contributor Insights rules read."""
    from local_stack.log_groups import log_group_path, log_groups

    sc = scenario
    sc.deploy("say")
    sc.map(BatchSize=1, ParallelizationFactor=2)
    keys = sc.put(4)
    log_dir = sc.dir / "log-groups"
    sc.start(function_log_dir=log_dir)
    eventually(lambda: sorted(sc.delivered_keys()) == sorted(keys))
    path = log_group_path(log_dir, f"/aws/lambda/{sc.function}")
    assert log_groups(log_dir) == {f"/aws/lambda/{sc.function}": path}

    def said() -> list[str]:
        lines = path.read_text().splitlines() if path.exists() else []
        return sorted(json.loads(line)["said"] for line in lines if line.startswith('{"said"'))

    eventually(lambda: len(said()) == 4, what="the handler's lines in the log group file")
    assert said() == sorted(seq for call in sc.calls() for seq in call["seqs"])


def test_moto_stores_every_esm_setting_the_runtime_reads(clients: Clients, tmp_path: Path) -> None:
    """The runtime reads ESM settings and reserved concurrency only from moto's own fields (no
    side channel); this pins that moto stores and returns each one, so an upgrade that drops
    one fails here rather than silently changing behaviour."""
    from local_stack.stream_runtime.mappings import mapping_from_api
    from local_stack.stream_runtime.semantics import EsmSettings

    sc = Scenario(clients, tmp_path)
    sc.deploy("record_calls", reserved_concurrency=0)
    queue = sc.queue()
    sc.map(strict=False, BatchSize=7, MaximumBatchingWindowInSeconds=2, MaximumRetryAttempts=3,
           MaximumRecordAgeInSeconds=61, BisectBatchOnFunctionError=True,
           FunctionResponseTypes=["ReportBatchItemFailures"], ParallelizationFactor=3,
           DestinationConfig={"OnFailure": {"Destination": queue}},
           StartingPosition="LATEST", Enabled=False, MetricsConfig={"Metrics": ["EventCount"]})
    (item,) = clients.lam.list_event_source_mappings(FunctionName=sc.function)[
        "EventSourceMappings"]
    mapping = mapping_from_api(item)
    assert mapping.state == "Disabled" and not mapping.enabled
    assert mapping.settings == EsmSettings(
        batch_size=7, max_batching_window_s=2, max_retry_attempts=3, max_record_age_s=61,
        bisect_on_error=True, report_batch_item_failures=True, parallelization_factor=3,
        on_failure_arn=queue, starting_position="LATEST", metrics=("EventCount",))
    assert mapping.metrics_enabled
    sc.update_mapping(Enabled=True, MaximumRetryAttempts=-1, BisectBatchOnFunctionError=False,
                      FunctionResponseTypes=[], MetricsConfig={"Metrics": []})
    (item,) = clients.lam.list_event_source_mappings(FunctionName=sc.function)[
        "EventSourceMappings"]
    updated = mapping_from_api(item)
    assert updated.enabled and updated.settings.max_retry_attempts == -1
    assert not updated.settings.bisect_on_error and not updated.settings.report_batch_item_failures
    assert not updated.metrics_enabled
    conc = clients.lam.get_function_concurrency(FunctionName=sc.function)
    assert conc["ReservedConcurrentExecutions"] == 0
    clients.lam.delete_function_concurrency(FunctionName=sc.function)
    assert "ReservedConcurrentExecutions" not in clients.lam.get_function_concurrency(
        FunctionName=sc.function)
    config = clients.lam.get_function_configuration(FunctionName=sc.function)
    assert config["Handler"].endswith(".record_calls")
    assert config["Environment"]["Variables"]["TEST_DIR"] == str(tmp_path)
    assert (config["Timeout"], config["MemorySize"]) == (30, 128)
