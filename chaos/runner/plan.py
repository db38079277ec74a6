"""The plan of a run: every step in order, each fault's targets resolved with the run's seed —
what `run --dry` prints without touching anything, and what a real run records."""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext
from chaos.durations import format_seconds, parse_duration
from chaos.exceptions import ChaosError
from chaos.faults.injector import Injector
from chaos.spec.loader import Experiment
from chaos.spec.sections import DEFAULT_TARGET, WAIT_FOR_FAULTS_TIMEOUT, LoadConfig
from chaos.variables import has_references
from chaos.verdicts import describe_tolerance


def step_seed(seed: int, index: int) -> int:
    """Each fault step gets its own seed, derived from the run's, so replay is exact."""
    return (seed * 1_000_003 + index * 7919) % (2**31)


def method_steps(experiment: Experiment, control: bool) -> list[dict[str, Any]]:
    steps = list(experiment.data["method"])
    if control:
        steps = list(experiment.control.before_method) + steps
    return steps


def resolve_fault(injector: Injector | None, step: dict[str, Any], seed: int
                  ) -> dict[str, Any]:
    """{targets, candidates, effects} or {unresolved: reason}; never changes anything."""
    params = step.get("params") or {}
    if injector is None:
        return {"unresolved": "no running stack to list candidates"}
    if has_references(params):
        return {"unresolved": "parameters use values saved during the run"}
    try:
        plan = injector.plan(step["fault"], step.get("target", DEFAULT_TARGET), params,
                             parse_duration(step["duration"]), seed)
    except (ChaosError, KeyError, ValueError) as exc:
        return {"unresolved": str(exc)}
    except Exception as exc:  # noqa: BLE001 - e.g. an AWS endpoint that is down
        return {"unresolved": f"{type(exc).__name__}: {exc}"}
    return {"targets": plan.targets, "candidates": plan.candidates, "effects": plan.effects}


def build_plan(experiment: Experiment, ctx: ChaosContext | None, seed: int,
               control: bool = False) -> dict[str, Any]:
    injector = Injector(ctx) if ctx is not None else None
    if ctx is not None:
        experiment = experiment.for_target(ctx.target)  # its bounds on this target
    data = experiment.data
    steps = []
    for index, step in enumerate(method_steps(experiment, control)):
        item = {"index": index, **step}
        if step["type"] == "fault":
            item["seed"] = step_seed(seed, index)
            item.update(resolve_fault(injector, step, item["seed"]))
        steps.append(item)
    stack = (data.get("control") or {}).get("stack") if control else data.get("stack")
    plan = {
        "title": data["title"], "variant": "control" if control else "experiment",
        "seed": seed, "stack_args": (stack or {}).get("args", []),
        "load": data.get("load") or {"driver": "none"},
        "observe": data.get("observe") or {},
        "hypothesis": data["steady-state-hypothesis"],
        "steps": steps, "rollbacks": data.get("rollbacks") or [],
        "guards": list(experiment.stop_conditions.guards),
        "verdicts": data.get("verdicts") or [],
    }
    if ctx is not None and ctx.target == "aws":
        plan["api_calls"] = api_calls(plan, experiment)
    return plan


# every aws run reads these besides its steps: the account and stack, the observed alarms,
# the fault flags a cleanup sweeps
RUN_CALLS = ["sts:GetCallerIdentity", "cloudformation:DescribeStacks",
             "scheduler:ListSchedules", "ssm:GetParametersByPath", "ssm:DeleteParameter"]
MONITORING_CALLS = ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeInsightRules"]


def api_calls(plan: dict[str, Any], experiment: Experiment) -> list[str]:
    """Every AWS API call (`service:Operation`, boto3's service names) a run of `plan` on the
    aws target would make, in order of first use: the run's own reads, each fault's effects
    (its calls, its scheduled undo), each probe's calls (chaos/probes/aws PROBE_CALLS)."""
    from chaos.probes.aws import PROBE_CALLS

    calls: list[str] = list(RUN_CALLS)
    from chaos.probes.monitoring import relied_on

    if relied_on(experiment.data):  # the monitoring check before the method
        calls += MONITORING_CALLS
    probes = [p["probe"] for p in plan["hypothesis"]["probes"]]
    probes += [p["probe"] for p in plan["hypothesis"].get("after") or []]
    probes += [g["probe"] for g in plan["guards"]]
    observe = experiment.observe
    probes += ["alarm"] * bool(observe.alarms) + ["iterator-age"] * bool(observe.iterator_age)
    probes += ["replicas-alive"] * bool(observe.services)
    for step in plan["steps"] + list(plan["rollbacks"]):
        if step["type"] == "probe":
            probes.append(step["probe"])
        for effect in step.get("effects") or []:
            calls.append(effect.split()[0])
    for probe in probes:
        calls += PROBE_CALLS.get(probe, [f"(probe {probe}: no reading on aws)"])
    return list(dict.fromkeys(calls))


def _probe_line(probe: dict[str, Any]) -> str:
    within = f" within {probe['within']}" if "within" in probe else ""
    tolerance = describe_tolerance(probe.get("tolerance") or {})
    return f"{probe['name']}: {probe['probe']} {probe.get('params') or {}} {tolerance}{within}"


def format_plan(plan: dict[str, Any]) -> str:
    out = [f"plan: {plan['title']} ({plan['variant']}), seed {plan['seed']}"]
    if plan["stack_args"]:
        out.append(f"  stack started with: gameday up {' '.join(plan['stack_args'])}")
    load = LoadConfig.from_spec(plan["load"])
    if load.runs:
        out.append(f"  load: {load.driver} × {load.users} users")
    out.append(f"  steady state: {plan['hypothesis']['title']}")
    for probe in plan["hypothesis"]["probes"]:
        out.append(f"    - {_probe_line(probe)}")
    for probe in plan["hypothesis"].get("after") or []:
        out.append(f"    - (after only) {_probe_line(probe)}")
    out.append("  method:")
    for step in plan["steps"]:
        kind = step["type"]
        if kind == "fault":
            head = (f"    {step['index'] + 1}. fault {step['name']}: {step['fault']} "
                    f"{step.get('target', DEFAULT_TARGET)} for "
                    f"{format_seconds(parse_duration(step['duration']))} (seed {step['seed']})")
            out.append(head)
            if "unresolved" in step:
                out.append(f"       targets resolved at run time: {step['unresolved']}")
            else:
                out.append(f"       candidates: {', '.join(step['candidates'])}")
                out.append(f"       targets:    {', '.join(step['targets'])}")
                out += [f"       - {effect}" for effect in step["effects"]]
        elif kind == "probe":
            out.append(f"    {step['index'] + 1}. probe {_probe_line(step)}")
        elif kind == "pause":
            out.append(f"    {step['index'] + 1}. pause {step['duration']}")
        elif kind == "wait-for-faults":
            out.append(f"    {step['index'] + 1}. wait for every fault to end "
                       f"(at most {step.get('timeout', WAIT_FOR_FAULTS_TIMEOUT)})")
        else:
            out.append(f"    {step['index'] + 1}. action {step['name']}: {step['action']} "
                       f"{step.get('params') or ''}".rstrip())
    out.append("  rollbacks: undo every fault of this run" + (
        f", then {', '.join(s.get('name', s['type']) for s in plan['rollbacks'])}"
        if plan["rollbacks"] else ""))
    for guard in plan["guards"]:
        out.append(f"  stop if not: {_probe_line(guard)}")
    if "api_calls" in plan:
        out.append("  AWS API calls (in order of first use): " + ", ".join(plan["api_calls"]))
    for verdict in plan["verdicts"]:
        bounds = {k: verdict[k] for k in ("equals", "in", "min", "max") if k in verdict}
        out.append(f"  verdict: {verdict.get('title') or verdict['metric']} "
                   f"{verdict.get('params') or ''} {describe_tolerance(bounds)}")
    return "\n".join(out)
