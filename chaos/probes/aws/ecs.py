"""ECS from the outside: a shop service's running and desired task counts (DescribeServices)."""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext


def service_counts(ctx: ChaosContext, service: str) -> dict[str, int]:
    """{running, desired, pending} of the stack's ECS service for `service` (storefront, ...)."""
    catalog = ctx.catalog()
    physical = catalog["services"].get(service)
    if physical is None:
        raise KeyError(f"the stack has no service {service!r} (known: "
                       f"{sorted(catalog['services'])})")
    found: list[dict[str, Any]] = ctx.client("ecs").describe_services(
        cluster=catalog["cluster"], services=[physical])["services"]
    if not found:
        return {"running": 0, "desired": 0, "pending": 0}
    return {"running": int(found[0].get("runningCount", 0)),
            "desired": int(found[0].get("desiredCount", 0)),
            "pending": int(found[0].get("pendingCount", 0))}


def running_count(ctx: ChaosContext, service: str) -> int:
    return service_counts(ctx, service)["running"]
