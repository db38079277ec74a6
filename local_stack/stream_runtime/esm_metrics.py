"""Lambda's event-source-mapping metrics (the ``EventCount`` group), emitted by the local runtime
with AWS's names, unit and dimension, and switched on per mapping by ``MetricsConfig`` as on AWS.

What AWS documents (Lambda developer guide, "Types of metrics for Lambda functions", section
*Event source mapping metrics*, and "Viewing metrics for Lambda functions"; API reference
``EventSourceMappingMetricsConfig``; launched November 2024):

* they are off by default; ``CreateEventSourceMapping``/``UpdateEventSourceMapping`` with
  ``MetricsConfig={"Metrics": ["EventCount"]}`` turns the group on (``EventCount`` is the only
  value for DynamoDB streams: ``ErrorCount`` and ``KafkaMetrics`` are Kafka groups);
* namespace ``AWS/Lambda``, unit ``Count``, dimension ``EventSourceMappingUUID`` ("By Event
  Source Mapping UUID – View metrics for an event source mapping"); Lambda sends them, like every
  Lambda metric, "in 1-minute intervals";
* for Kinesis and DynamoDB streams the group is: ``PolledEventCount`` ("the number of events that
  Lambda reads successfully from the event source. If Lambda polls for events but receives an
  empty poll (no new records), Lambda emits a 0 value"), ``FilteredOutEventCount`` (events a
  filter criteria filtered out, 0 for events that match), ``InvokedEventCount`` ("the number of
  events that invoked your Lambda function ... If an event results in a function error or
  throttling, InvokedEventCount may count multiple times for the same polled event due to
  automatic retries"), ``FailedInvokeEventCount`` ("events that Lambda tried to invoke your
  function with, but failed ... with partial batch responses enabled, includes any event with a
  non-empty BatchItemFailures in the response"), ``DroppedEventCount`` ("dropped due to expiry
  or retry exhaustion ... records that exceed MaximumRecordAgeInSeconds or MaximumRetryAttempts
  ... excludes events that you send to an on-failure destination") and
  ``OnFailureDestinationDeliveredEventCount`` (events sent to the on-failure destination);
* "If your event source mapping is disabled, you won't receive event source mapping metrics."

How this runtime maps its steps onto them (``poller`` calls one method per step):

* every successful GetRecords of an enabled mapping's shard → ``PolledEventCount`` = records
  returned, 0 for an empty poll: a healthy consumer heartbeats about 4 times a second per shard;
* every attempt to invoke a batch (a throttled attempt too) → ``InvokedEventCount`` = records
  of the batch, so retries count again;
* a throttled attempt or a function error → ``FailedInvokeEventCount`` = records of the batch; a
  partial batch response → the records retried (from the lowest failed sequence number on);
* records discarded for MaximumRecordAgeInSeconds or MaximumRetryAttempts without an OnFailure
  destination → ``DroppedEventCount``; with one, once delivered →
  ``OnFailureDestinationDeliveredEventCount``;
* ``FilteredOutEventCount`` is never emitted: FilterCriteria is not implemented locally
  (``deploy.create_mapping`` refuses it), so no mapping has a filter.

Deviations, named: AWS sends these at 1-minute resolution; here they go through the runtime's
``CloudWatchEmitter`` like its other Lambda metrics (one statistic set per second,
StorageResolution 1). AWS counts a failed delivery to the destination as dropped; the local
sender retries until the destination takes the record (``poller.ShardProcessor._give_up``).

Prometheus, for Grafana and the alert rules (labels ``function`` and ``event_source_mapping``,
the UUID): ``stream_runtime_esm_<name>_events_total`` for each metric above, and
``stream_runtime_esm_polls_total`` — one per GetRecords, empty ones included, which is what a
``PolledEventCount`` of 0 says on CloudWatch and what a counter cannot show by itself. Every
counter of a mapping is created at 0 the first time the mapping emits, so a rate query has data
before anything was dropped.
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

EVENT_COUNT = "EventCount"  # the MetricsConfig group
METRICS_CONFIG_GROUPS = (EVENT_COUNT,)  # what a DynamoDB-stream mapping accepts
NAMESPACE = "AWS/Lambda"
DIMENSION = "EventSourceMappingUUID"
UNIT = "Count"

POLLED = "PolledEventCount"
FILTERED_OUT = "FilteredOutEventCount"
INVOKED = "InvokedEventCount"
FAILED_INVOKE = "FailedInvokeEventCount"
DROPPED = "DroppedEventCount"
ON_FAILURE_DELIVERED = "OnFailureDestinationDeliveredEventCount"
EVENT_COUNT_METRICS = (POLLED, FILTERED_OUT, INVOKED, FAILED_INVOKE, DROPPED,
                       ON_FAILURE_DELIVERED)

# CloudWatch name -> the Prometheus counter's middle part
_PROM_NAMES = {
    POLLED: "polled",
    FILTERED_OUT: "filtered_out",
    INVOKED: "invoked",
    FAILED_INVOKE: "failed_invoke",
    DROPPED: "dropped",
    ON_FAILURE_DELIVERED: "on_failure_delivered",
}
PROM_LABELS = ("function", "event_source_mapping")
PROM_POLLS = "stream_runtime_esm_polls"


def prometheus_name(metric: str) -> str:
    """The Prometheus counter (without `_total`) of a CloudWatch ESM metric name."""
    return f"stream_runtime_esm_{_PROM_NAMES[metric]}_events"


class MappingView(Protocol):
    """What the emitter needs of a mapping (mappings.MappingConfig has it)."""

    uuid: str
    function_name: str

    @property
    def enabled(self) -> bool: ...

    @property
    def metrics_enabled(self) -> bool: ...


class DatumSink(Protocol):
    def add(self, namespace: str, metric: str, value: float, unit: str,
            dimensions: dict[str, str], at: float | None = None) -> None: ...


class EsmMetrics:
    """The EventCount group of every mapping, to Prometheus and (optionally) CloudWatch."""

    def __init__(self, registry: CollectorRegistry, cloudwatch: DatumSink | None = None) -> None:
        self.cloudwatch = cloudwatch
        self.counters = {
            metric: Counter(prometheus_name(metric),
                            f"Lambda ESM {metric} (records), as MetricsConfig EventCount emits it",
                            PROM_LABELS, registry=registry)
            for metric in EVENT_COUNT_METRICS
        }
        self.polls = Counter(PROM_POLLS, "GetRecords calls of enabled mappings with "
                             "MetricsConfig EventCount, empty polls included", PROM_LABELS,
                             registry=registry)
        self._seen: set[tuple[str, str]] = set()

    def _emit(self, mapping: MappingView, metric: str, n: int) -> None:
        if not (mapping.enabled and mapping.metrics_enabled):
            return  # AWS: off unless MetricsConfig asks; nothing from a disabled mapping
        labels = (mapping.function_name, mapping.uuid)
        if labels not in self._seen:
            self._seen.add(labels)
            for metric_name, counter in self.counters.items():
                if metric_name != FILTERED_OUT:  # never emitted here: no filter criteria
                    counter.labels(*labels).inc(0)
            self.polls.labels(*labels).inc(0)
        self.counters[metric].labels(*labels).inc(n)
        if metric == POLLED:
            self.polls.labels(*labels).inc()
        if self.cloudwatch is not None:
            self.cloudwatch.add(NAMESPACE, metric, float(n), UNIT, {DIMENSION: mapping.uuid})

    # -- one method per step of the poller ------------------------------------------------------
    def polled(self, mapping: MappingView, records: int) -> None:
        """A GetRecords answered `records` records (0: an empty poll, still emitted)."""
        self._emit(mapping, POLLED, records)

    def invoke_attempted(self, mapping: MappingView, records: int) -> None:
        """An attempt to invoke a batch of `records` (throttled or not)."""
        self._emit(mapping, INVOKED, records)

    def invoke_failed(self, mapping: MappingView, records: int) -> None:
        """A throttle, a function error, or the records a partial batch response retries."""
        if records > 0:
            self._emit(mapping, FAILED_INVOKE, records)

    def gave_up(self, mapping: MappingView, records: int, delivered: bool) -> None:
        """Records that left the shard unprocessed: sent to OnFailure, or dropped."""
        self._emit(mapping, ON_FAILURE_DELIVERED if delivered else DROPPED, records)
