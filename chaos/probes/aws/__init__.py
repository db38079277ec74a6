"""Probes of the aws target: what reads AWS differently from the local stack.

- ecs.py: a service's running/desired tasks (`ecs-running`; also `replicas-alive` on aws);
- alb.py: healthy targets of a service's target group (`alb-healthy`);
- cloudwatch.py: a metric's newest datapoint (`cloudwatch-metric`), the stream numbers from
  AWS/Lambda (`iterator-age`, `stream` on aws) and their sums since a `stream` reading
  (`stream-delta` on aws, with the event source mapping metrics), a breaker's state from the
  shop's BreakerOpen metric (`breaker` on aws);
- sqs.py: a queue's depth (`sqs-depth`); dynamodb.py: orders by status (`orders-table`);
- audit.py: the shop's audit of the stack's tables (`audit` on aws, same checks and baseline);
- ecs.py also: the replica events `died`/`replaced` from ECS tasks and this run's kill-replica
  faults (`supervisor-events` on aws, through chaos/probes/processes.py, which the runner's
  `replacement_s` verdict reads too).
Alarms (`alarm`, stop conditions) read CloudWatch the same way on every target
(chaos/probes/alarms.py).

`PROBE_OVERRIDES` are the probes whose aws reading differs (chaos.targets dispatches);
`PROBE_CALLS` the API calls each probe makes on aws (for `--dry` and the operator policy).
"""

from __future__ import annotations

from typing import Any

from chaos.probes.aws import audit, cloudwatch, ecs


def _replicas(env: Any, p: dict[str, Any]) -> int:
    return ecs.running_count(env.ctx, p["service"])


def _iterator_age(env: Any, p: dict[str, Any]) -> float | None:
    return cloudwatch.iterator_age_s(env.ctx, p["function"])


def _stream(env: Any, p: dict[str, Any]) -> dict[str, Any]:
    return cloudwatch.stream_numbers(env.ctx, p["function"])


def _stream_delta(env: Any, p: dict[str, Any]) -> dict[str, Any]:
    return cloudwatch.stream_delta(env.ctx, p["function"], p.get("since") or {})


def _breaker(env: Any, p: dict[str, Any]) -> str | None:
    return cloudwatch.breaker_state(env.ctx, p["dependency"])


def _audit(env: Any, p: dict[str, Any]) -> dict[str, Any]:
    return audit.run_audit(env.ctx, p.get("args"), p.get("baseline"))


PROBE_OVERRIDES = {"replicas-alive": _replicas, "iterator-age": _iterator_age,
                   "stream": _stream, "stream-delta": _stream_delta, "breaker": _breaker,
                   "audit": _audit}

# probes whose one function reads the same on every target (AWS APIs through the context's
# session, HTTP, the load's own records; supervisor-events dispatches in
# chaos/probes/processes.py) and the aws-only ones: with PROBE_OVERRIDES, exactly the probes of
# PROBE_CALLS (a test keeps the three in step, so no probe is listed as read on aws while it
# still reads the local stack)
READ_ALIKE = frozenset({"alarm", "alarm-contributor", "onfailure", "http", "load-rate",
                        "locust", "orders", "order-status", "supervisor-events", "ecs-running",
                        "alb-healthy", "cloudwatch-metric", "sqs-depth", "orders-table"})

PROBE_CALLS: dict[str, list[str]] = {
    "replicas-alive": ["ecs:DescribeServices"],
    "ecs-running": ["ecs:DescribeServices"],
    "alb-healthy": ["elbv2:DescribeTargetGroups", "elbv2:DescribeTags",
                    "elbv2:DescribeTargetHealth"],
    "cloudwatch-metric": ["cloudwatch:GetMetricData"],
    "iterator-age": ["cloudwatch:GetMetricData"],
    "stream": ["cloudwatch:GetMetricData"],
    "stream-delta": ["lambda:ListEventSourceMappings", "cloudwatch:GetMetricData"],
    "sqs-depth": ["sqs:GetQueueAttributes"],
    "orders-table": ["dynamodb:Scan"],
    "alarm": ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
    "alarm-contributor": ["cloudwatch:DescribeAlarms", "cloudwatch:GetInsightRuleReport"],
    "onfailure": ["lambda:ListEventSourceMappings", "sqs:GetQueueUrl", "sqs:ReceiveMessage",
                  "dynamodbstreams:GetShardIterator", "dynamodbstreams:GetRecords"],
    "http": [], "load-rate": [], "locust": [], "orders": [], "order-status": [],
    "breaker": ["cloudwatch:GetMetricData"],
    "audit": ["dynamodb:Scan"],
    "supervisor-events": ["ecs:ListTasks", "ecs:DescribeTasks"],
}
