"""Lambda's event-source-mapping metrics (MetricsConfig EventCount), one scripted mapping per
test against the real moto server: each metric is checked against what the Lambda developer
guide says of it ("Types of metrics for Lambda functions", Event source mapping metrics), in
CloudWatch (AWS/Lambda, dimension EventSourceMappingUUID, unit Count) and in Prometheus."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from local_stack.stream_runtime.esm_metrics import (
    DROPPED,
    FAILED_INVOKE,
    FILTERED_OUT,
    INVOKED,
    ON_FAILURE_DELIVERED,
    POLLED,
    PROM_POLLS,
    prometheus_name,
)
from tests.stream_runtime.conftest import Scenario, eventually, holds

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

EVENT_COUNT = {"Metrics": ["EventCount"]}


def cloudwatch(sc: Scenario, metric: str) -> dict[str, Any]:
    """{Sum, Seconds (one-second periods with data), Units} of `metric` for the scenario's
    mapping over the last minutes, as AWS/Lambda publishes it (dimension EventSourceMappingUUID
    only)."""
    now = dt.datetime.now(dt.UTC)
    points = sc.c.cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric,
        Dimensions=[{"Name": "EventSourceMappingUUID", "Value": sc.mapping_uuid}],
        StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=1),
        Period=1, Statistics=["Sum"])["Datapoints"]
    return {"Sum": sum(p["Sum"] for p in points), "Seconds": len(points),
            "Units": {p.get("Unit") for p in points}}


def prom(sc: Scenario, metric: str) -> float:
    return sc.metric(f"{prometheus_name(metric)}_total", event_source_mapping=sc.mapping_uuid)


def listed_metrics(sc: Scenario) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    listed = sc.c.cw.list_metrics(Namespace="AWS/Lambda")["Metrics"]
    return {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
            for m in listed}


def test_polled_event_count_is_zero_on_empty_polls_and_counts_what_a_poll_read(
        scenario: Scenario) -> None:
    """AWS: PolledEventCount is "the number of events that Lambda reads successfully from the
    event source. If Lambda polls for events but receives an empty poll (no new records),
    Lambda emits a 0 value": an idle, healthy mapping keeps emitting. FilteredOutEventCount
    needs a filter criteria, which no local mapping can have: never emitted."""
    sc = scenario
    sc.deploy("record_calls")
    sc.map(BatchSize=10, MetricsConfig=EVENT_COUNT)
    sc.start()
    idle = eventually(lambda: (p := cloudwatch(sc, POLLED))["Seconds"] >= 3 and p,
                      what="PolledEventCount datapoints from empty polls")
    assert idle["Sum"] == 0 and idle["Units"] == {"Count"}
    assert sc.metric(f"{PROM_POLLS}_total", event_source_mapping=sc.mapping_uuid) >= 3
    keys = sc.put(3)
    eventually(lambda: sc.delivered_keys() == keys)
    eventually(lambda: cloudwatch(sc, POLLED)["Sum"] == 3, what="PolledEventCount = 3")
    assert prom(sc, POLLED) == 3
    dims = (("EventSourceMappingUUID", sc.mapping_uuid),)
    assert (POLLED, dims) in listed_metrics(sc)
    assert cloudwatch(sc, FILTERED_OUT)["Seconds"] == 0
    assert prom(sc, INVOKED) == 3 and prom(sc, FAILED_INVOKE) == 0


def test_a_poison_record_with_retries_counts_every_invocation_then_goes_to_on_failure(
        scenario: Scenario) -> None:
    """AWS: InvokedEventCount counts the events that invoked the function, "If an event results
    in a function error ... InvokedEventCount may count multiple times for the same polled event
    due to automatic retries"; FailedInvokeEventCount the events it tried to invoke with, but
    failed; OnFailureDestinationDeliveredEventCount the events sent to the on-failure
    destination, and DroppedEventCount "excludes events that you send to an on-failure
    destination". Batch of one, MaximumRetryAttempts 2: three invocations of the poison."""
    sc = scenario
    sc.deploy("fail_on_poison")
    sc.map(BatchSize=1, MaximumRetryAttempts=2, MetricsConfig=EVENT_COUNT,
           DestinationConfig={"OnFailure": {"Destination": sc.queue()}})
    sc.put(1, poison=True)
    good = sc.put(2)
    sc.start()
    eventually(sc.on_failure_messages, what="the OnFailure record")
    eventually(lambda: set(good) <= set(sc.delivered_keys()), what="the shard to move on")
    eventually(lambda: cloudwatch(sc, ON_FAILURE_DELIVERED)["Sum"] == 1,
               what="OnFailureDestinationDeliveredEventCount = 1")
    assert prom(sc, INVOKED) == 3 + 2  # the poison three times, each good record once
    assert prom(sc, FAILED_INVOKE) == 3
    assert prom(sc, ON_FAILURE_DELIVERED) == 1 and prom(sc, DROPPED) == 0
    eventually(lambda: cloudwatch(sc, INVOKED)["Sum"] == 5, what="InvokedEventCount = 5")
    assert cloudwatch(sc, FAILED_INVOKE)["Sum"] == 3
    assert cloudwatch(sc, DROPPED)["Seconds"] == 0


def test_partial_batch_response_and_throttles_count_as_failed_invokes(
        scenario: Scenario) -> None:
    """AWS: with partial batch responses, FailedInvokeEventCount "includes any event with a
    non-empty BatchItemFailures in the response" (here: the records the ESM retries, from the
    lowest failed sequence number); a throttled attempt is an invocation Lambda tried and that
    failed, and its retries count again in InvokedEventCount."""
    sc = scenario
    sc.deploy("partial_on_poison", reserved_concurrency=0)
    sc.map(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"],
           MaximumBatchingWindowInSeconds=1, MetricsConfig=EVENT_COUNT)
    sc.put(2)
    sc.put(1, poison=True)
    sc.put(1)
    sc.start()
    eventually(lambda: sc.metric("stream_runtime_throttles_total") >= 2, what="throttles")
    assert sc.calls() == [] and prom(sc, INVOKED) >= 8
    sc.c.lam.delete_function_concurrency(FunctionName=sc.function)
    eventually(lambda: len(sc.calls()) >= 2, what="the partial failure and its retry")
    sc.heal()
    eventually(lambda: sc.metric("stream_runtime_records_total", outcome="processed") == 4)
    # every throttled attempt carried the 4 records; then one invocation of the 4 (2 of them,
    # the poison and the record after it, reported failed), and retries of those 2 until the
    # last one, after heal(), succeeds
    throttled = 4 * sc.metric("stream_runtime_throttles_total")
    retries = len(sc.calls()) - 1
    assert prom(sc, INVOKED) == throttled + 4 + 2 * retries
    assert prom(sc, FAILED_INVOKE) == throttled + 2 + 2 * (retries - 1)
    assert prom(sc, DROPPED) == 0 and prom(sc, ON_FAILURE_DELIVERED) == 0


def test_maximum_record_age_exceeded_without_destination_is_dropped(scenario: Scenario) -> None:
    """AWS: DroppedEventCount is "the number of records that exceed your configured values for
    MaximumRecordAgeInSeconds or MaximumRetryAttempts"; with no on-failure destination nothing
    is delivered (MaximumRecordAgeInSeconds 2 via strict=False; AWS's minimum is 60)."""
    sc = scenario
    sc.deploy("fail_on_poison")
    sc.map(strict=False, BatchSize=1, MaximumRecordAgeInSeconds=2, MetricsConfig=EVENT_COUNT,
           StartingPosition="LATEST")
    sc.start()
    eventually(lambda: sc.positioned(), what="the LATEST iterator to be taken")
    sc.put(1, poison=True)
    eventually(lambda: prom(sc, DROPPED) == 1, what="the poison record dropped")
    assert prom(sc, ON_FAILURE_DELIVERED) == 0
    assert sc.metric("stream_runtime_records_total", outcome="discarded") == 1
    eventually(lambda: cloudwatch(sc, DROPPED)["Sum"] == 1, what="DroppedEventCount = 1")
    assert prom(sc, FAILED_INVOKE) == prom(sc, INVOKED) >= 1


def test_no_metrics_from_a_disabled_mapping_nor_without_metrics_config(
        clients: Any, tmp_path: Any) -> None:
    """AWS: "If your event source mapping is disabled, you won't receive event source mapping
    metrics", and the metrics are off unless MetricsConfig asks for them: a disabled mapping
    with EventCount and an enabled one without MetricsConfig both emit nothing while a third,
    enabled with EventCount, emits (the control that the runtime was polling all along)."""
    scenarios = [Scenario(clients, tmp_path / name) for name in ("off", "nocfg", "on")]
    off, nocfg, on = scenarios
    try:
        for sc in scenarios:
            sc.dir.mkdir()
            sc.deploy("record_calls")
        off.map(BatchSize=10, MetricsConfig=EVENT_COUNT, Enabled=False)
        nocfg.map(BatchSize=10)
        on.map(BatchSize=10, MetricsConfig=EVENT_COUNT)
        for sc in scenarios:
            sc.put(2)
            sc.start()
        eventually(lambda: prom(on, POLLED) == 2 and len(nocfg.delivered_keys()) == 2,
                   what="the enabled mappings to poll and deliver")
        holds(lambda: all(cloudwatch(sc, m)["Seconds"] == 0
                          for sc in (off, nocfg) for m in (POLLED, INVOKED)), 1.5,
              what="no ESM metric from the disabled mapping nor without MetricsConfig")
        assert off.calls() == []
        for sc in (off, nocfg):
            assert sc.metric(f"{PROM_POLLS}_total", event_source_mapping=sc.mapping_uuid) == 0
        # switched on by UpdateEventSourceMapping, as on AWS
        nocfg.update_mapping(MetricsConfig=EVENT_COUNT)
        eventually(lambda: cloudwatch(nocfg, POLLED)["Seconds"] > 0,
                   what="PolledEventCount once MetricsConfig is set")
    finally:
        for sc in scenarios:
            sc.stop()
