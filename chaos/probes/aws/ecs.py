"""ECS from the outside: a shop service's running and desired task counts (DescribeServices),
and the supervisor's replica events (`died`, `replaced`) as ECS tells them (ListTasks,
DescribeTasks), so `supervisor-events` and the `replacement_s` verdict read the same on aws."""

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


# -- replica events ---------------------------------------------------------------------------

EVENT_KINDS = ("died", "replaced")  # the supervisor's kinds an ECS service has an answer for
# a task's last statuses before it serves; not "!= RUNNING", as moto moves every task's
# lastStatus on to STOPPED as soon as it is read (its state manager's immediate progression)
STARTING = frozenset({"PROVISIONING", "PENDING", "ACTIVATING"})


def _epoch(value: Any) -> float | None:
    return value.timestamp() if hasattr(value, "timestamp") else None


def task_events(ctx: ChaosContext, since: float | None = None, kinds: tuple[str, ...] = (),
                process_prefix: str | None = None) -> list[dict[str, Any]]:
    """The supervisor's events (chaos/probes/processes.py) as ECS tells them, for the services
    whose name starts with `process_prefix` (all when None), from this run's `kill-replica`
    faults still on at `since` or later (the ledger):

    - `died`: each task a fault stopped, at the fault's start;
    - `replaced`: each of the service's tasks (ours by tag, desired RUNNING) that is no longer
      starting (`STARTING`) and was not running when the fault started (the fault recorded
      `running_before`): the service scheduler started it since. `seconds` is its ECS
      `startedAt` minus the fault's start when ECS reports one (moto does not), as the
      supervisor's death-to-healthy time.

    Only `died` and `replaced` have an ECS answer; other kinds raise ValueError naming these.
    With no such fault, nothing died or was replaced as far as this run knows (tasks that
    merely started, e.g. in a deployment, are not replacements)."""
    from chaos.faults.aws.ecs_tasks import running_tasks
    from chaos.ledger import Ledger

    unknown = sorted(set(kinds) - set(EVENT_KINDS))
    if unknown:
        raise ValueError(f"supervisor event kind(s) {unknown} have no reading on aws "
                         f"(it has {list(EVENT_KINDS)})")
    services = [s for s in ctx.catalog()["services"]
                if not process_prefix or s.startswith(process_prefix)
                or process_prefix.startswith(s)]
    faults = [e for e in Ledger(ctx.state_dir).entries()
              if e.name == "kill-replica" and e.params.get("service") in services
              and (since is None or (e.ended_at or e.expires_at) >= since)
              and "running_before" in e.undo]
    out: list[dict[str, Any]] = []
    for service in services:
        mine = sorted((e for e in faults if e.params["service"] == service),
                      key=lambda e: e.started_at)
        if not mine:
            continue
        out += [{"ts": e.started_at, "kind": "died", "process": f"{service}/{task}",
                 "fault": e.fault_id} for e in mine for task in e.targets]
        known = {t for e in mine for t in e.undo["running_before"]}
        for task_id, task in sorted(running_tasks(ctx, service).items()):
            if task_id in known or task.get("lastStatus") in STARTING:
                continue  # there before the fault, or still starting (not serving yet)
            started = _epoch(task.get("startedAt"))
            event: dict[str, Any] = {"ts": started or mine[0].started_at, "kind": "replaced",
                                     "process": f"{service}/{task_id}"}
            if started is not None:
                event["seconds"] = round(max(0.0, started - mine[0].started_at), 3)
            out.append(event)
    wanted = set(kinds) or set(EVENT_KINDS)
    return sorted((e for e in out if e["kind"] in wanted), key=lambda e: e["ts"])
