"""Probes of the aws target: what reads AWS differently from the local stack.

- ecs.py: a service's running/desired tasks (`ecs-running`; also `replicas-alive` on aws);
- alb.py: healthy targets of a service's target group (`alb-healthy`);
- cloudwatch.py: a metric's newest datapoint (`cloudwatch-metric`), the stream numbers from
  AWS/Lambda (`iterator-age`, `stream` on aws), a breaker's state from the shop's
  BreakerOpen metric (`breaker` on aws);
- sqs.py: a queue's depth (`sqs-depth`); dynamodb.py: orders by status (`orders-table`).
Alarms (`alarm`, stop conditions) read CloudWatch the same way on every target
(chaos/probes/alarms.py).

`PROBE_OVERRIDES` are the probes whose aws reading differs (chaos.targets dispatches);
`PROBE_CALLS` the API calls each probe makes on aws (for `--dry` and the operator policy).
"""

from __future__ import annotations

from typing import Any

from chaos.probes.aws import cloudwatch, ecs


def _replicas(env: Any, p: dict[str, Any]) -> int:
    return ecs.running_count(env.ctx, p["service"])


def _iterator_age(env: Any, p: dict[str, Any]) -> float | None:
    return cloudwatch.iterator_age_s(env.ctx, p["function"])


def _stream(env: Any, p: dict[str, Any]) -> dict[str, Any]:
    return cloudwatch.stream_numbers(env.ctx, p["function"])


def _breaker(env: Any, p: dict[str, Any]) -> str | None:
    return cloudwatch.breaker_state(env.ctx, p["dependency"])


PROBE_OVERRIDES = {"replicas-alive": _replicas, "iterator-age": _iterator_age,
                   "stream": _stream, "breaker": _breaker}

PROBE_CALLS: dict[str, list[str]] = {
    "replicas-alive": ["ecs:DescribeServices"],
    "ecs-running": ["ecs:DescribeServices"],
    "alb-healthy": ["elbv2:DescribeTargetGroups", "elbv2:DescribeTags",
                    "elbv2:DescribeTargetHealth"],
    "cloudwatch-metric": ["cloudwatch:GetMetricData"],
    "iterator-age": ["cloudwatch:GetMetricData"],
    "stream": ["cloudwatch:GetMetricData"],
    "stream-delta": ["cloudwatch:GetMetricData"],
    "sqs-depth": ["sqs:GetQueueAttributes"],
    "orders-table": ["dynamodb:Scan"],
    "alarm": ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
    "alarm-contributor": ["cloudwatch:DescribeAlarms", "cloudwatch:GetInsightRuleReport"],
    "onfailure": ["lambda:ListEventSourceMappings", "sqs:GetQueueUrl", "sqs:ReceiveMessage",
                  "dynamodbstreams:GetShardIterator", "dynamodbstreams:GetRecords"],
    "http": [], "load-rate": [], "locust": [], "orders": [], "order-status": [],
    "breaker": ["cloudwatch:GetMetricData"],
}
