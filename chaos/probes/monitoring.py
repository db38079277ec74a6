"""The monitoring an experiment relies on, and whether it is in place before the method.

An experiment's detection checks name CloudWatch alarms: `alarm` and `alarm-contributor`
probes (steady state and method), the `time_to_alarm_s` / `time_to_alarm_ok_s` verdicts
(a list of alarms there means any one of them), and the alarms its stop conditions name.
`relied_on` reads them from the experiment as loaded; `gaps` asks CloudWatch which of those
alarms cannot detect anything: deleted, with their actions disabled (they would page nobody),
or reading a Contributor Insights rule that is deleted or disabled (`INSIGHT_RULE_METRIC` then
has no data).

Missing monitoring is what a detection experiment exists to find, so the runner checks it
first and a gap fails the detection checks that depend on it (chaos/runner/outcome.py,
`monitoring_verdicts`), instead of erroring on a steady state that "observed null".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chaos.context import ChaosContext

ALARM_PROBES = ("alarm", "alarm-contributor")  # probes whose `alarm` param names an alarm
ALARM_METRICS = ("time_to_alarm_s", "time_to_alarm_ok_s")  # verdicts with an `alarm` param
_INSIGHT_RULE = re.compile(r"INSIGHT_RULE_METRIC\(\s*(['\"])(.+?)\1")


@dataclass(frozen=True)
class Check:
    """One check of the experiment that needs at least one of `alarms` in place."""

    label: str  # how the report names it: "steady state: jam-alarm-ok", a verdict's title
    alarms: tuple[str, ...]


def _names(value: Any) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else list(value or [])
    # a name taken from a saved variable is only known at run time: not checked up front
    return tuple(n for n in names if isinstance(n, str) and "${" not in n)


def relied_on(data: dict[str, Any]) -> list[Check]:
    """Every check of the experiment (as loaded) that reads an alarm."""
    checks: list[Check] = []
    hypothesis = data.get("steady-state-hypothesis") or {}
    for probe in [*(hypothesis.get("probes") or []), *(hypothesis.get("after") or [])]:
        if probe.get("probe") in ALARM_PROBES:
            alarms = _names((probe.get("params") or {}).get("alarm"))
            if alarms:
                checks.append(Check(f"steady state: {probe['name']}", alarms))
    for step in data.get("method") or []:
        if step.get("type") == "probe" and step.get("probe") in ALARM_PROBES:
            alarms = _names((step.get("params") or {}).get("alarm"))
            if alarms:
                checks.append(Check(f"detection: {step['name']}", alarms))
    for name in _names((data.get("stop-conditions") or {}).get("alarms")):
        # a stop condition on an alarm that cannot fire is no stop condition
        checks.append(Check(f"stop condition: alarm {name}", (name,)))
    for verdict in data.get("verdicts") or []:
        if verdict.get("metric") in ALARM_METRICS:
            alarms = _names((verdict.get("params") or {}).get("alarm"))
            if alarms:
                checks.append(Check(verdict.get("title") or verdict["metric"], alarms))
    return checks


def gaps(ctx: ChaosContext, alarms: Iterable[str]) -> dict[str, str]:
    """{alarm: why it cannot detect} for each of `alarms` that is not in place."""
    names = sorted(set(alarms))
    if not names:
        return {}
    client = ctx.client("cloudwatch")
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(names), 100):
        resp = client.describe_alarms(AlarmNames=names[i:i + 100])
        for alarm in resp.get("MetricAlarms", []) + resp.get("CompositeAlarms", []):
            found[alarm["AlarmName"]] = alarm
    rules: dict[str, str] | None = None
    out: dict[str, str] = {}
    for name in names:
        alarm = found.get(name)
        if alarm is None:
            out[name] = "does not exist (deleted?)"
            continue
        if alarm.get("ActionsEnabled") is False:
            out[name] = "has its actions disabled: it would notify nobody"
            continue
        for query in alarm.get("Metrics") or []:
            match = _INSIGHT_RULE.search(str(query.get("Expression") or ""))
            if not match:
                continue
            if rules is None:
                rules = {r["Name"]: str(r.get("State", "")).upper() for r in
                         client.describe_insight_rules().get("InsightRules", [])}
            rule = match.group(2)
            if rule not in rules:
                out[name] = f"reads Contributor Insights rule {rule}, which does not exist"
            elif rules[rule] != "ENABLED":
                out[name] = f"reads Contributor Insights rule {rule}, which is disabled"
    return out
