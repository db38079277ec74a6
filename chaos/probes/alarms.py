"""CloudWatch alarm state and history (describe_alarms / describe_alarm_history via boto3).

Detection ignores an ALARM that old data caused: an alarm's StateReasonData lists the
datapoints its evaluation used (`evaluatedDatapoints`, each period's start, and `period`);
when every one of those periods ended before the fault started, the ALARM is a leftover (a
previous experiment's tail, a datapoint evaluated late), not a detection of this fault.
`alarm_state(..., fresh_since=fault start)` reads such an ALARM as `STALE_ALARM`, and
`alarm_history(..., fresh_since=...)` leaves such transitions out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chaos.context import ChaosContext

STALE_ALARM = "ALARM (on data from before the fault)"


@dataclass(frozen=True)
class Transition:
    ts: float
    old: str | None
    new: str
    evaluated_until: float | None = None  # end of the newest period the evaluation used

    def to_dict(self) -> dict[str, Any]:
        return {"ts": self.ts, "old": self.old, "new": self.new,
                "evaluated_until": self.evaluated_until}

    def stale(self, since: float | None) -> bool:
        """An ALARM caused only by datapoints of periods that ended by `since`."""
        return (self.new == "ALARM" and since is not None and self.evaluated_until is not None
                and self.evaluated_until <= since)


def evaluated_until(reason_data: Any) -> float | None:
    """The end of the newest period in an alarm's StateReasonData (JSON text or parsed):
    newest `evaluatedDatapoints` timestamp + `period`; None when it says nothing of them."""
    try:
        data = json.loads(reason_data) if isinstance(reason_data, str) else reason_data
        period = float(data["period"])
        starts = [datetime.strptime(dp["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
                  for dp in data["evaluatedDatapoints"]]
    except (TypeError, ValueError, KeyError):
        return None
    return max(starts) + period if starts else None


def alarm_state(ctx: ChaosContext, name: str, fresh_since: float | None = None) -> str | None:
    """ALARM | OK | INSUFFICIENT_DATA, or None when the alarm does not exist; with
    `fresh_since` (the fault's start), an ALARM whose evaluated datapoints all predate it is
    STALE_ALARM."""
    resp = ctx.client("cloudwatch").describe_alarms(AlarmNames=[name])
    alarms = resp.get("MetricAlarms", []) + resp.get("CompositeAlarms", [])
    if not alarms:
        return None
    state = alarms[0]["StateValue"]
    until = evaluated_until(alarms[0].get("StateReasonData"))
    if Transition(0.0, None, state, until).stale(fresh_since):
        return STALE_ALARM
    return str(state)


def alarm_snapshot(ctx: ChaosContext, names: list[str]) -> dict[str, tuple[str, float] | None]:
    """{name: (state, epoch of the last state change)}; None for a missing alarm. The change
    time lets a sampler place transitions exactly even where history is not served."""
    if not names:
        return {}
    resp = ctx.client("cloudwatch").describe_alarms(AlarmNames=names)
    found = {
        a["AlarmName"]: (a["StateValue"], _epoch(a["StateUpdatedTimestamp"]))
        for a in resp.get("MetricAlarms", []) + resp.get("CompositeAlarms", [])
    }
    return {n: found.get(n) for n in names}


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def parse_transition(item: dict[str, Any]) -> Transition | None:
    """A StateUpdate history item as (ts, old, new); None for other item types."""
    if item.get("HistoryItemType") not in (None, "StateUpdate"):
        return None
    ts = _epoch(item["Timestamp"])
    try:
        data = json.loads(item.get("HistoryData") or "{}")
        new = data["newState"]["stateValue"]
        old = (data.get("oldState") or {}).get("stateValue")
        return Transition(ts, old, new, evaluated_until(data["newState"].get("stateReasonData")))
    except (json.JSONDecodeError, KeyError, TypeError):
        summary = item.get("HistorySummary", "")
        # "Alarm updated from OK to ALARM"
        words = summary.split()
        if "to" in words and words.index("to") + 1 < len(words):
            old = words[words.index("from") + 1] if "from" in words else None
            return Transition(ts, old, words[words.index("to") + 1])
    return None


def alarm_history(ctx: ChaosContext, name: str, since: float | None = None,
                  fresh_since: float | None = None) -> list[Transition] | None:
    """State transitions of `name` (oldest first), optionally only from `since`, and without
    the ALARMs caused by data from before `fresh_since` (Transition.stale); None when the
    endpoint does not serve DescribeAlarmHistory (moto does not: use sampled snapshots)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        history = _history(ctx, name, since)
    except (ClientError, BotoCoreError, NotImplementedError):
        return None
    return [t for t in history if not t.stale(fresh_since)]


def _history(ctx: ChaosContext, name: str, since: float | None) -> list[Transition]:
    client = ctx.client("cloudwatch", attempts=1)
    kwargs: dict[str, Any] = {"AlarmName": name, "HistoryItemType": "StateUpdate",
                              "MaxRecords": 100}
    if since is not None:
        kwargs["StartDate"] = datetime.fromtimestamp(since - 1, tz=UTC)
    items: list[dict[str, Any]] = []
    while True:
        resp = client.describe_alarm_history(**kwargs)
        items += resp.get("AlarmHistoryItems", [])
        if not resp.get("NextToken") or len(items) > 1000:
            break
        kwargs["NextToken"] = resp["NextToken"]
    out = [t for t in (parse_transition(i) for i in items) if t is not None]
    if since is not None:
        out = [t for t in out if t.ts >= since - 1]
    return sorted(out, key=lambda t: t.ts)


_INSIGHT_RULE = re.compile(r"INSIGHT_RULE_METRIC\(\s*(['\"])(.+?)\1")


def top_contributor(ctx: ChaosContext, name: str, fresh_since: float | None = None
                    ) -> dict[str, Any]:
    """Who an INSIGHT_RULE_METRIC alarm in ALARM is about: {state, contributor (keys joined
    with "|"), value, alarm_at, after_fault_s (alarm_at - fresh_since)}; contributor None
    while the alarm is not in ALARM (or its ALARM is stale, see alarm_state).

    As an AWS user would: GetInsightRuleReport on the alarm's rule over the periods its
    evaluation used, top contributor first. moto has no GetInsightRuleReport; then the local
    evaluator's `topContributors` in the alarm's StateReasonData answers (local_stack's
    insight_rules)."""
    from botocore.exceptions import BotoCoreError, ClientError

    resp = ctx.client("cloudwatch").describe_alarms(AlarmNames=[name])
    found = resp.get("MetricAlarms", [])
    if not found:
        return {"state": None, "contributor": None}
    alarm = found[0]
    state = alarm_state(ctx, name, fresh_since)
    out: dict[str, Any] = {"state": state, "contributor": None}
    if state != "ALARM":
        return out
    alarm_at = _epoch(alarm["StateUpdatedTimestamp"])
    out["alarm_at"] = alarm_at
    if fresh_since is not None:
        out["after_fault_s"] = round(alarm_at - fresh_since, 3)
    reason = json.loads(alarm.get("StateReasonData") or "{}")
    contributors: list[dict[str, Any]] = []
    rules = [m.group(2) for q in alarm.get("Metrics") or []
             if (m := _INSIGHT_RULE.search(str(q.get("Expression") or "")))]
    until = evaluated_until(reason)
    if rules and until is not None:
        try:
            report = ctx.client("cloudwatch", attempts=1).get_insight_rule_report(
                RuleName=rules[0], StartTime=datetime.fromtimestamp(
                    until - float(reason["period"]), tz=UTC),
                EndTime=datetime.fromtimestamp(until, tz=UTC), Period=int(reason["period"]),
                MaxContributorCount=1, OrderBy="Sum")
            contributors = [{"Keys": c["Keys"],
                             "ApproximateAggregateValue": c["ApproximateAggregateValue"]}
                            for c in report.get("Contributors", [])]
        except (ClientError, BotoCoreError, NotImplementedError):
            contributors = []
    contributors = contributors or list(reason.get("topContributors") or [])
    if contributors:
        out["contributor"] = "|".join(contributors[0]["Keys"])
        out["value"] = contributors[0]["ApproximateAggregateValue"]
    return out
