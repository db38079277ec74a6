"""Lambda functions and event source mappings, as the (local or real) Lambda API lists them."""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import UnknownTarget


def list_functions(ctx: ChaosContext) -> list[str]:
    names: list[str] = []
    for page in ctx.client("lambda").get_paginator("list_functions").paginate():
        names += [f["FunctionName"] for f in page.get("Functions", [])]
    return sorted(names)


def function_candidates(ctx: ChaosContext, requested: list[str]) -> list[str]:
    """`requested` when every name exists (UnknownTarget naming the missing ones), else all
    functions when nothing was requested."""
    known = list_functions(ctx)
    if not requested:
        return known
    missing = [name for name in requested if name not in known]
    if missing:
        raise UnknownTarget(
            f"no Lambda function {', '.join(missing)} (known: {', '.join(known) or 'none'})"
        )
    return list(requested)


def mappings_of(ctx: ChaosContext, function: str) -> list[dict[str, Any]]:
    """The event source mappings of `function`."""
    client = ctx.client("lambda")
    out: list[dict[str, Any]] = []
    for page in client.get_paginator("list_event_source_mappings").paginate(
        FunctionName=function
    ):
        out += page.get("EventSourceMappings", [])
    return out


def onfailure_arn(destination_config: dict[str, Any] | None) -> str | None:
    """The OnFailure destination ARN in a mapping's DestinationConfig, if there is one."""
    return ((destination_config or {}).get("OnFailure") or {}).get("Destination")
