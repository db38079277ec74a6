"""The load balancers' view of a service: how many of its targets are healthy
(DescribeTargetHealth of the target group tagged with our stack and the service's component)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from chaos.context import ChaosContext
from chaos.faults.aws.tagging import component, ours


def target_group_arn(ctx: ChaosContext, service: str) -> str:
    elb = ctx.client("elbv2")
    arns = [g["TargetGroupArn"] for page in elb.get_paginator("describe_target_groups")
            .paginate() for g in page.get("TargetGroups", [])]
    for i in range(0, len(arns), 20):
        for described in elb.describe_tags(ResourceArns=arns[i:i + 20])["TagDescriptions"]:
            tags = described.get("Tags")
            if ours(tags, str(ctx.stack)) and component(tags) == service:
                return str(described["ResourceArn"])
    raise KeyError(f"no target group of {service} tagged by stack {ctx.stack}")


def target_health(ctx: ChaosContext, service: str) -> dict[str, Any]:
    """{healthy, total, states: {state: n}} of the service's target group."""
    arn = target_group_arn(ctx, service)
    found = ctx.client("elbv2").describe_target_health(TargetGroupArn=arn)
    states = Counter(d["TargetHealth"]["State"] for d in found.get("TargetHealthDescriptions",
                                                                     []))
    return {"healthy": states.get("healthy", 0), "total": sum(states.values()),
            "states": dict(states)}
