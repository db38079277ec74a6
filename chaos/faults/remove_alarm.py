"""remove-alarm: delete a CloudWatch alarm (or strip its TreatMissingData), keeping the full
definition in the ledger so undo puts it back exactly. A *protection switch*: the negative
controls use it to show that the alarm is what detects a jam.

Not self-expiring: after a CLI died, `reap` (run by the stack's reaper) restores it.
"""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import InjectionFailed, UnknownTarget
from chaos.faults.base import Fault, as_list
from chaos.ledger import Entry

# the describe_alarms keys that put_metric_alarm accepts back
DEFINITION_KEYS = (
    "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
    "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
    "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics",
    "ThresholdMetricId",
)
MODES = ("delete", "drop-treat-missing-data")


def describe(ctx: ChaosContext, names: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    client = ctx.client("cloudwatch")
    for i in range(0, len(names), 100):
        resp = client.describe_alarms(AlarmNames=names[i:i + 100], AlarmTypes=["MetricAlarm"])
        for alarm in resp.get("MetricAlarms", []):
            found[alarm["AlarmName"]] = alarm
    return found


def definition(alarm: dict[str, Any]) -> dict[str, Any]:
    return {k: alarm[k] for k in DEFINITION_KEYS if alarm.get(k) not in (None, [], "")}


class RemoveAlarm(Fault):
    name = "remove-alarm"
    summary = "delete a CloudWatch alarm (or drop its TreatMissingData); undo restores it"
    self_expiring = False

    def normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        names = as_list(params.get("alarm"))
        if not names:
            raise ValueError("remove-alarm needs alarm: NAME")
        mode = params.get("mode", "delete")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.reject_unknown(params, {"alarm", "mode"})
        return {"alarm": names, "mode": mode}

    def candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        found = describe(ctx, params["alarm"])
        missing = [n for n in params["alarm"] if n not in found]
        if missing:
            raise UnknownTarget(f"no CloudWatch alarm {', '.join(missing)}")
        return params["alarm"]

    def conflict_keys(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [f"alarm:{t}" for t in targets]

    def effects(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        verb = "DeleteAlarms" if params["mode"] == "delete" else "PutMetricAlarm without " \
            "TreatMissingData"
        return [f"{verb} {t} (definition kept in the ledger)" for t in targets]

    def prepare_undo(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        found = describe(ctx, entry.targets)
        return {"definitions": {n: definition(found[n]) for n in entry.targets}}

    def inject(self, ctx: ChaosContext, entry: Entry) -> None:
        client = ctx.client("cloudwatch")
        if entry.params["mode"] == "delete":
            client.delete_alarms(AlarmNames=entry.targets)
            return
        for spec in entry.undo["definitions"].values():
            stripped = {k: v for k, v in spec.items() if k != "TreatMissingData"}
            client.put_metric_alarm(**stripped)

    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        found = describe(ctx, entry.targets)
        for name in entry.targets:
            if entry.params["mode"] == "delete" and name in found:
                raise InjectionFailed(f"alarm {name} still exists")
            if entry.params["mode"] != "delete" and found.get(name, {}).get(
                    "TreatMissingData", "missing") != "missing":
                raise InjectionFailed(f"alarm {name} still has TreatMissingData")

    def undo(self, ctx: ChaosContext, entry: Entry) -> str:
        client = ctx.client("cloudwatch")
        restored = []
        for name, spec in (entry.undo.get("definitions") or {}).items():
            client.put_metric_alarm(**spec)
            restored.append(name)
        return f"restored alarm {', '.join(restored)}" if restored else "nothing to undo"


FAULTS = [RemoveAlarm()]
