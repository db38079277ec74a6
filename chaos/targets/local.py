"""The local target: the shop as processes on loopback (`gameday up`), AWS APIs from moto in
server mode; the catalog is the state file."""

from __future__ import annotations

from typing import Any

from chaos.targets.base import Target


def state_catalog(ctx: Any) -> dict[str, Any]:
    """The catalog of a stack described by a state file (local and compose)."""
    state = ctx.state or {}
    return {"target": ctx.target, "urls": dict(state.get("urls") or {}),
            "services": sorted((state.get("services") or {}).keys()),
            "region": ctx.region, "state_dir": str(ctx.state_dir)}


TARGET = Target(
    name="local",
    summary="every service a process on loopback, AWS APIs from moto (the default)",
    deploy="gameday up", teardown="gameday down",
    faults_from="chaos.faults", catalog_fn=state_catalog,
)
