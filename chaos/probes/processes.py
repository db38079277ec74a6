"""Process state from the outside: replica pids from the state file (alive per psutil) and
the supervisor's events (`<state_dir>/events.jsonl`: died, replacing, replaced, hold_expired;
on aws, died and replaced from ECS tasks and this run's kill-replica faults)."""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext
from local_stack.supervisor import pid_alive, read_events


def replicas_alive(ctx: ChaosContext, service: str) -> int:
    """How many replicas of `service` have a live pid (state file re-read)."""
    ctx.reload()
    return sum(1 for r in ctx.replicas(service) if pid_alive(r.get("pid")))


def events(ctx: ChaosContext, since: float | None = None, kinds: tuple[str, ...] = (),
           process_prefix: str | None = None) -> list[dict[str, Any]]:
    """Supervisor events, filtered by time, kind and process-name prefix; on aws, the same
    events as ECS tells them (chaos.probes.aws.ecs.task_events)."""
    if ctx.target == "aws":
        from chaos.probes.aws.ecs import task_events

        return task_events(ctx, since, kinds, process_prefix)
    out: list[dict[str, Any]] = []
    for event in read_events(ctx.state_dir):
        if since is not None and float(event.get("ts", 0)) < since:
            continue
        if kinds and event.get("kind") not in kinds:
            continue
        if process_prefix and not str(event.get("process", "")).startswith(process_prefix):
            continue
        out.append(event)
    return out
