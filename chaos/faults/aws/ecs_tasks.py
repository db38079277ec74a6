"""kill-replica on aws: ECS StopTask for the seeded selection of a service's running tasks that
carry our stack's tags (tasks inherit the service's tags: `PropagateTags: SERVICE`).

Modes (`mode`, default hold — what the local stack's supervisor hold does):
- `hold`: the chosen tasks are stopped, then the service's desiredCount is lowered by their
  number, so ECS does not replace them for the fault's duration; undo (and the scheduled undo,
  `ecs:updateService`) restores the desiredCount read before. In that order because lowering
  the desiredCount first would let ECS stop tasks of its own choosing as well (2k down instead
  of the seeded k); a replacement ECS started in between is the one it stops to converge.
- `stop`: StopTask only; the service scheduler replaces the tasks at once (nothing to undo, no
  schedule needed, but one is still made: it sets the desiredCount it read, a no-op).

Targets are task ids. moto never starts a service's tasks and ignores ListTasks' serviceName:
tasks are matched by their `group` (`service:<name>`, as ECS sets it) and their tags.
"""

from __future__ import annotations

import logging
from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import InjectionFailed, UnknownTarget
from chaos.faults.aws import tagging
from chaos.faults.aws.base import AwsFault
from chaos.faults.aws.scheduled_undo import UndoCall
from chaos.faults.base import poll
from chaos.ledger import Entry

log = logging.getLogger("chaos.faults.aws.ecs_tasks")

MODES = ("hold", "stop")
SERVICES = ("storefront", "payments", "reviews")


def _service(ctx: ChaosContext, service: str) -> tuple[str, str]:
    catalog = ctx.catalog()
    if service not in catalog["services"]:
        raise UnknownTarget(f"the stack has no ECS service {service!r} "
                            f"(known: {sorted(catalog['services'])})")
    return catalog["cluster"], catalog["services"][service]


def running_tasks(ctx: ChaosContext, service: str) -> dict[str, dict[str, Any]]:
    """task id -> task, for the service's RUNNING tasks tagged with our stack."""
    cluster, physical = _service(ctx, service)
    ecs = ctx.client("ecs")
    arns: list[str] = []
    for page in ecs.get_paginator("list_tasks").paginate(
            cluster=cluster, serviceName=physical, desiredStatus="RUNNING"):
        arns += page.get("taskArns", [])
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(arns), 100):
        for task in ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100],
                                       include=["TAGS"])["tasks"]:
            if task.get("group") != f"service:{physical}":
                continue
            if not tagging.ours(task.get("tags"), str(ctx.stack)):
                log.warning("task %s of %s is not tagged by stack %s: never targeted",
                            task["taskArn"], physical, ctx.stack)
                continue
            found[task["taskArn"].rsplit("/", 1)[-1]] = task
    return found


def desired_count(ctx: ChaosContext, cluster: str, service: str) -> int:
    found = ctx.client("ecs").describe_services(cluster=cluster, services=[service])["services"]
    if not found:
        raise UnknownTarget(f"no ECS service {service} in {cluster}")
    return int(found[0]["desiredCount"])


class KillTask(AwsFault):
    name = "kill-replica"
    summary = "ECS StopTask for tasks of a service; held down (desiredCount lowered) or not"

    def normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        service = params.get("service")
        if service not in SERVICES:
            raise ValueError(f"kill-replica on aws needs service in {SERVICES}, got {service!r}")
        mode = params.get("mode", "hold")
        if mode not in MODES:
            raise ValueError(f"kill-replica on aws: mode must be one of {MODES}, got {mode!r}")
        self.reject_unknown(params, {"service", "mode"})
        return {"service": service, "mode": mode}

    def _candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        tagging.our_services(ctx, [params["service"]])
        return sorted(running_tasks(ctx, params["service"]))

    def conflict_keys(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        keys = [f"task:{t}" for t in targets]
        return keys + ([f"desired-count:{params['service']}"] if params["mode"] == "hold"
                       else [])

    def api_calls(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        service = params["service"]
        calls = [f"ecs:DescribeServices {service}", f"ecs:ListTasks {service}",
                 f"ecs:DescribeTasks {service}"] + [f"ecs:StopTask {t}" for t in targets]
        if params["mode"] == "hold":
            calls.append(f"ecs:UpdateService {service} desiredCount -= {len(targets)}")
        return calls

    def planned_undo(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [f"ecs:UpdateService {params['service']} desiredCount = as before"]

    def _prepare(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        cluster, physical = _service(ctx, entry.params["service"])
        tasks = running_tasks(ctx, entry.params["service"])
        missing = sorted(set(entry.targets) - set(tasks))
        if missing:
            raise InjectionFailed(f"no running task(s) {missing} of {physical}")
        before = desired_count(ctx, cluster, physical)
        lowered = before - len(entry.targets) if entry.params["mode"] == "hold" else before
        # running_before: what a replacement is told apart from (chaos.probes.aws.ecs)
        return {"cluster": cluster, "service_name": physical, "desired_before": before,
                "desired_during": max(0, lowered),
                "task_arns": {t: tasks[t]["taskArn"] for t in entry.targets},
                "running_before": sorted(tasks)}

    def undo_calls(self, targets: list[str], params: dict[str, Any],
                   data: dict[str, Any]) -> list[UndoCall]:
        return [UndoCall("ecs", "UpdateService", {
            "cluster": data["cluster"], "service": data["service_name"],
            "desiredCount": data["desired_before"]})]

    def _inject(self, ctx: ChaosContext, entry: Entry) -> None:
        ecs = ctx.client("ecs")
        data = entry.undo
        for task_id, arn in data["task_arns"].items():
            ecs.stop_task(cluster=data["cluster"], task=arn,
                          reason=f"gameday chaos fault {entry.fault_id}")
            log.info("StopTask %s (%s)", task_id, data["service_name"])
        if entry.params["mode"] == "hold":
            ecs.update_service(cluster=data["cluster"], service=data["service_name"],
                               desiredCount=data["desired_during"])

    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        ecs = ctx.client("ecs")
        data = entry.undo

        def stopped() -> bool:
            tasks = ecs.describe_tasks(cluster=data["cluster"],
                                       tasks=list(data["task_arns"].values()))["tasks"]
            return len(tasks) == len(data["task_arns"]) and all(
                t.get("desiredStatus") == "STOPPED" for t in tasks)

        if not poll(stopped, timeout_s=10.0, interval_s=0.5):
            raise InjectionFailed(f"tasks {sorted(data['task_arns'])} not stopping 10 s after "
                                  "StopTask")
        if entry.params["mode"] == "hold":
            now = desired_count(ctx, data["cluster"], data["service_name"])
            if now != data["desired_during"]:
                raise InjectionFailed(f"{data['service_name']} desiredCount reads {now}, not "
                                      f"{data['desired_during']}")

    def _undo(self, ctx: ChaosContext, entry: Entry) -> str:
        data = entry.undo
        if "desired_before" not in data:
            return "nothing was changed"
        now = desired_count(ctx, data["cluster"], data["service_name"])
        if now == data["desired_before"]:
            return f"{data['service_name']} desiredCount is {now} already"
        if now != data["desired_during"]:
            return (f"{data['service_name']} desiredCount is {now} (changed by someone else); "
                    "left alone")
        UndoCall.from_dict(data["undo_calls"][0]).call(ctx.client("ecs"))
        return f"restored {data['service_name']} desiredCount {data['desired_before']}"


FAULTS = [KillTask()]
