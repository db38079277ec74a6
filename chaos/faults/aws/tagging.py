"""Only resources our stack tagged are ever targeted: every candidate of an aws fault is checked
for `gameday:managed` = `true` and `gameday:stack` = the stack named on the command line
(deploy/aws/tags.py) before it is chosen, and a requested one without them is refused."""

from __future__ import annotations

from typing import Any

from chaos.exceptions import UnsafeTarget
from deploy.aws.tags import COMPONENT_TAG, MANAGED_TAG, STACK_TAG


def as_map(tags: Any) -> dict[str, str]:
    """`{Key: Value}` from any of AWS' tag shapes ([{Key, Value}], [{key, value}], a map)."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value")))
            for t in tags or []}


def ours(tags: Any, stack: str) -> bool:
    found = as_map(tags)
    return found.get(MANAGED_TAG) == "true" and found.get(STACK_TAG) == stack


def require_ours(tags: Any, stack: str, what: str) -> None:
    """UnsafeTarget unless `tags` mark the resource as our stack's."""
    if not ours(tags, stack):
        found = as_map(tags)
        raise UnsafeTarget(
            f"refusing {what}: not tagged {MANAGED_TAG}=true and {STACK_TAG}={stack} "
            f"(it has {STACK_TAG}={found.get(STACK_TAG)!r}, {MANAGED_TAG}="
            f"{found.get(MANAGED_TAG)!r})")


def component(tags: Any) -> str | None:
    return as_map(tags).get(COMPONENT_TAG)


def function_tags(ctx: Any, name: str) -> dict[str, str]:
    return as_map(ctx.client("lambda").get_function(FunctionName=name).get("Tags"))


def our_functions(ctx: Any, requested: list[str]) -> list[str]:
    """The requested functions (all the stack's when none), each checked for our tags."""
    stack = ctx.stack
    names = requested or sorted(ctx.catalog()["functions"])
    for name in names:
        try:
            tags = function_tags(ctx, name)
        except ctx.client("lambda").exceptions.ResourceNotFoundException:
            from chaos.exceptions import UnknownTarget

            raise UnknownTarget(f"no Lambda function {name}") from None
        require_ours(tags, stack, f"Lambda function {name}")
    return list(names)


def service_tags(ctx: Any, service: str) -> dict[str, str]:
    """Tags of the stack's ECS service for a shop service name (storefront, payments, ...)."""
    catalog = ctx.catalog()
    physical = catalog["services"].get(service)
    if physical is None:
        from chaos.exceptions import UnknownTarget

        raise UnknownTarget(f"the stack has no service {service!r} "
                            f"(known: {sorted(catalog['services'])})")
    found = ctx.client("ecs").describe_services(
        cluster=catalog["cluster"], services=[physical], include=["TAGS"])["services"]
    return as_map(found[0].get("tags")) if found else {}


def our_services(ctx: Any, services: list[str]) -> list[str]:
    for service in services:
        require_ours(service_tags(ctx, service), ctx.stack, f"ECS service of {service}")
    return list(services)
