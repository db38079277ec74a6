"""The shop's serverless half, declared once: the stream consumers (Lambda functions), their event
source mappings, the OnFailure queue, the Second Look alert queue and the CloudWatch alarms.

On AWS this would be the SAM template; locally `deploy(...)` creates the same resources in the
local endpoint (moto stores them; the local stream runtime reads and honours them).

Mapping settings, and why:
- `BisectBatchOnFunctionError` + `MaximumRetryAttempts=20` + `OnFailure` queue: a poison record
  is isolated by bisection and, after ~20 retries (about 20 s with the runtime's back-off), sent
  to the OnFailure queue where the transaction manager cancels its order; the shard moves on.
  A transient fault shorter than that (a payments outage, an injected error burst) only delays
  records, it never drops them.
- `MaximumRecordAgeInSeconds=600`: nothing waits longer than 10 minutes.
- `FunctionResponseTypes=[ReportBatchItemFailures]`: the handlers return partial batch
  responses, so a failure retries from the failed record, not the whole batch.
- `BatchSize=100` (AWS's default for a DynamoDB stream), no batching window: an invocation
  takes what has arrived, so at a trickle a batch is a record or two and nothing waits for a
  window; under load a batch grows instead of the backlog. With `BatchSize=10` the orders
  stream's mappings ran full batches back to back at ~20 checkouts/s (each order is ~5 stream
  records, read by three functions), and the last order completed 19-24 s after a 30-second
  checkout load; with 100, 1-10 s (bench/README.md, "The saga's batch size").
- `MetricsConfig={"Metrics": ["EventCount"]}`: Lambda's event-source-mapping metrics
  (PolledEventCount, InvokedEventCount, FailedInvokeEventCount, DroppedEventCount,
  OnFailureDestinationDeliveredEventCount) are off unless asked for; the dashboards show them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from local_stack.stream_runtime.deploy import create_mapping, deploy_function, stream_arn_of
from reference_app.config import Settings
from reference_app.handlers import HANDLERS

log = logging.getLogger("local_stack.shop_deploy")

ON_FAILURE_QUEUE = "shop-stream-on-failure"
SECOND_LOOK_QUEUE = "shop-second-look-alerts"

# function -> which table's stream it reads
SOURCES = {
    "shop-inventory": "orders",
    "shop-payment": "orders",
    "shop-order-completion": "orders",
    "shop-second-look": "payments",
    "shop-weekly-view": "reviews",
}


@dataclass
class MappingSettings:
    """Event source mapping settings (CreateEventSourceMapping parameters)."""

    batch_size: int = 100
    batching_window_s: int = 0
    maximum_retry_attempts: int = 20
    maximum_record_age_s: int = 600
    bisect: bool = True
    on_failure: bool = True
    parallelization_factor: int = 1
    report_batch_item_failures: bool = True
    starting_position: str = "TRIM_HORIZON"
    event_count_metrics: bool = True

    def parameters(self, on_failure_arn: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.batching_window_s,
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "MaximumRecordAgeInSeconds": self.maximum_record_age_s,
            "BisectBatchOnFunctionError": self.bisect,
            "ParallelizationFactor": self.parallelization_factor,
            "StartingPosition": self.starting_position,
        }
        if self.report_batch_item_failures:
            params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        if self.on_failure:
            params["DestinationConfig"] = {"OnFailure": {"Destination": on_failure_arn}}
        if self.event_count_metrics:
            params["MetricsConfig"] = {"Metrics": ["EventCount"]}
        return params


@dataclass
class Deployment:
    """What `deploy` created, for the state file."""

    functions: dict[str, str] = field(default_factory=dict)  # name -> stream arn
    mappings: dict[str, str] = field(default_factory=dict)  # name -> mapping uuid
    queues: dict[str, str] = field(default_factory=dict)  # name -> url
    alarms: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"functions": self.functions, "mappings": self.mappings,
                "queues": self.queues, "alarms": self.alarms}


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return url, arn


def deploy(settings: Settings, function_env: dict[str, str],
           mapping: MappingSettings | None = None, alarms: bool = True) -> Deployment:
    """Create queues, functions, mappings and alarms in the endpoint of `settings`."""
    from reference_app import aws

    mapping = mapping or MappingSettings()
    out = Deployment()
    sqs = aws.client("sqs", settings)
    on_failure_url, on_failure_arn = _queue(sqs, ON_FAILURE_QUEUE)
    second_look_url, _ = _queue(sqs, SECOND_LOOK_QUEUE)
    out.queues = {ON_FAILURE_QUEUE: on_failure_url, SECOND_LOOK_QUEUE: second_look_url}

    lam = aws.client("lambda", settings)
    iam = aws.client("iam", settings)
    ddb = aws.client("dynamodb", settings)
    tables = {"orders": settings.tables.orders, "payments": settings.tables.payments,
              "reviews": settings.tables.reviews}
    for name, source in SOURCES.items():
        env = {**function_env, "SHOP_SERVICE": name, "SECOND_LOOK_QUEUE_URL": second_look_url}
        deploy_function(lam, name, HANDLERS[name], env, iam_client=iam)
        stream_arn = stream_arn_of(ddb, tables[source])
        result = create_mapping(lam, name, stream_arn, **mapping.parameters(on_failure_arn))
        out.functions[name] = stream_arn
        out.mappings[name] = result["UUID"]

    if alarms:
        from dashboards.cloudwatch_alarms import put_alarms

        out.alarms = put_alarms(aws.client("cloudwatch", settings),
                                on_failure_queue=ON_FAILURE_QUEUE)
    log.info("deployed %d functions, %d mappings, %d alarms", len(out.functions),
             len(out.mappings), len(out.alarms))
    return out
