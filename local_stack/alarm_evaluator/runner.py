"""The evaluation loop: every interval, load all metric alarms from the CloudWatch API, evaluate
the ones whose evaluation range moved, and write state changes back with SetAlarmState.

Writing through the API (rather than keeping state here) is what makes the result readable
exactly as on AWS: ``describe_alarms`` shows StateValue / StateReason / StateReasonData, and
``describe_alarm_history`` the transitions (on a moto server patched by ``moto_history``).

Details that follow CloudWatch:

* a new alarm starts in INSUFFICIENT_DATA. moto creates alarms in ``OK`` with the reason
  ``Unchecked: Initial alarm creation``; that combination is read as INSUFFICIENT_DATA here, so
  an unpatched moto server behaves the same (``moto_history`` fixes it at the source);
* the state is only written when it changes; a state set by hand with SetAlarmState "lasts
  only until the next alarm comparison", i.e. until a new period completes;
* a completed period is evaluated again during ``settle_s`` seconds after it closed, so that
  datapoints sent up to a second late (publishers flush every second) still count;
* ``INSIGHT_RULE_METRIC`` alarms read their datapoints from an ``InsightSource`` (the local
  Contributor Insights rules, ``local_stack.insight_rules``), updated once per round; on a
  change to ALARM the rule's top contributors over the evaluated periods go into the
  StateReasonData (``topContributors``, GetInsightRuleReport's Contributors shape) and the
  reason names the first, since moto has no GetInsightRuleReport to ask. Without a source such
  alarms are not evaluated (logged once).
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from local_stack.alarm_evaluator.alarm_rule import AlarmRule, UnsupportedAlarm
from local_stack.alarm_evaluator.datapoints import fetch_ranges, range_end
from local_stack.alarm_evaluator.evaluation import Datapoint, Evaluation, State, evaluate
from local_stack.alarm_evaluator.prom import AlarmStateMetrics
from local_stack.alarm_evaluator.reason import state_reason, state_reason_data

log = logging.getLogger("local_stack.alarm_evaluator")

MOTO_INITIAL_REASON = "Unchecked: Initial alarm creation"
INSIGHT = "INSIGHT_RULE_METRIC"


class InsightSource(Protocol):
    """Where INSIGHT_RULE_METRIC alarms get their data (insight_rules.InsightRuleSource)."""

    def update(self, now: float | None = None) -> None: ...

    def ranges(self, alarms: Sequence[AlarmRule], now: _dt.datetime
               ) -> dict[str, list[Datapoint]]: ...

    def top_contributors(self, rule: str, start: float, end: float,
                         n: int = 3) -> list[tuple[tuple[str, ...], float]]: ...


@dataclass(frozen=True)
class Transition:
    """A state change written to CloudWatch."""

    alarm: str
    old_state: str
    new_state: str
    reason: str
    at: _dt.datetime


def effective_state(alarm: Mapping[str, Any]) -> str:
    """The alarm's state as CloudWatch would report it (moto's initial OK is INSUFFICIENT_DATA)."""
    value = str(alarm.get("StateValue") or State.INSUFFICIENT_DATA)
    if value == State.OK and alarm.get("StateReason") == MOTO_INITIAL_REASON:
        return State.INSUFFICIENT_DATA.value
    return value


class AlarmEvaluator:
    """Evaluates every metric alarm of one CloudWatch endpoint; see the module docstring."""

    def __init__(
        self,
        cloudwatch: Any,
        *,
        metrics: AlarmStateMetrics | None = None,
        settle_s: float = 2.0,
        clock: Callable[[], float] = time.time,
        insights: InsightSource | None = None,
    ) -> None:
        self.cloudwatch = cloudwatch
        self.metrics = metrics
        self.insights = insights
        self.settle_s = settle_s
        self.clock = clock
        # (alarm name, configuration timestamp) -> (range end evaluated, when it was evaluated)
        self._done: dict[tuple[str, str], tuple[_dt.datetime, _dt.datetime]] = {}
        self._rejected: set[tuple[str, str]] = set()

    def describe_metric_alarms(self) -> list[dict[str, Any]]:
        """Every metric alarm of the endpoint."""
        alarms: list[dict[str, Any]] = []
        for page in self.cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmTypes=["MetricAlarm"]):
            alarms.extend(page.get("MetricAlarms", []))
        return alarms

    def run_once(self, now: _dt.datetime | None = None) -> list[Transition]:
        """One round: evaluate the alarms that are due and write their state changes."""
        now = now or _dt.datetime.fromtimestamp(self.clock(), _dt.UTC)
        alarms = self.describe_metric_alarms()
        due: dict[str, tuple[AlarmRule, dict[str, Any]]] = {}
        live_keys = set()
        for alarm in alarms:
            key = (alarm["AlarmName"], str(alarm.get("AlarmConfigurationUpdatedTimestamp")))
            live_keys.add(key)
            rule = self._rule(alarm, key)
            if rule is not None and self._is_due(key, rule, now):
                due[rule.name] = (rule, alarm)
        self._done = {k: v for k, v in self._done.items() if k in live_keys}
        self._rejected &= live_keys

        insight = [rule for rule, _ in due.values() if _is_insight(rule)]
        ranges = fetch_ranges(self.cloudwatch,
                              [rule for rule, _ in due.values() if not _is_insight(rule)], now)
        if self.insights is not None:
            self.insights.update(now.timestamp())
            ranges.update(self.insights.ranges(insight, now))
        transitions = []
        states = {a["AlarmName"]: effective_state(a) for a in alarms}
        for name, (rule, alarm) in due.items():
            change = self._evaluate_one(rule, alarm, ranges[name], now)
            key = (name, str(alarm.get("AlarmConfigurationUpdatedTimestamp")))
            self._done[key] = (range_end(now, rule.period), now)
            if change is not None:
                transitions.append(change)
                states[name] = change.new_state
        if self.metrics is not None:
            self.metrics.set_states(states)
            self.metrics.last_run.set(self.clock())
        return transitions

    def _rule(self, alarm: Mapping[str, Any], key: tuple[str, str]) -> AlarmRule | None:
        try:
            rule = AlarmRule.from_api(alarm)
            if _is_insight(rule) and self.insights is None:
                raise UnsupportedAlarm(f"{rule.name}: INSIGHT_RULE_METRIC needs the log files "
                                       "of the rule's groups (--log-dir)")
            return rule
        except (UnsupportedAlarm, ValueError, KeyError) as exc:
            if key not in self._rejected:
                self._rejected.add(key)
                log.error("alarm %s is not evaluated: %s", key[0], exc)
            return None

    def _is_due(self, key: tuple[str, str], rule: AlarmRule, now: _dt.datetime) -> bool:
        done = self._done.get(key)
        end = range_end(now, rule.period)
        if done is None or done[0] != end:
            return True
        return (done[1] - end).total_seconds() < self.settle_s

    def _evaluate_one(self, rule: AlarmRule, alarm: Mapping[str, Any], window: list[Any],
                      now: _dt.datetime) -> Transition | None:
        result = evaluate(
            window,
            evaluation_periods=rule.evaluation_periods,
            datapoints_to_alarm=rule.datapoints_to_alarm,
            threshold=rule.threshold,
            comparison_operator=rule.comparison_operator,
            treat_missing_data=rule.treat_missing_data,
        )
        old = effective_state(alarm)
        stored = str(alarm.get("StateValue"))
        if result.state is None or (result.state.value == old and old == stored):
            return None
        contributors = self._contributors(rule, result)
        reason = state_reason(rule, result, old, contributors)
        try:
            self.cloudwatch.set_alarm_state(
                AlarmName=rule.name,
                StateValue=result.state.value,
                StateReason=reason,
                StateReasonData=state_reason_data(rule, result, now, contributors),
            )
        except self.cloudwatch.exceptions.ResourceNotFound:
            log.info("alarm %s was deleted while being evaluated", rule.name)
            return None
        if old == result.state.value:  # only moto's initial "OK" corrected to INSUFFICIENT_DATA
            return None
        log.info("alarm %s: %s -> %s: %s", rule.name, old, result.state.value, reason)
        if self.metrics is not None:
            self.metrics.transition(rule.name, old, result.state.value)
        return Transition(rule.name, old, result.state.value, reason, now)

    def _contributors(self, rule: AlarmRule, result: Evaluation
                      ) -> list[tuple[tuple[str, ...], float]] | None:
        """The top contributors over the evaluated periods, for an insight alarm going to
        ALARM (None otherwise)."""
        if (self.insights is None or not _is_insight(rule) or result.state is not State.ALARM
                or not result.evaluated):
            return None
        assert rule.math is not None and rule.math.insight_rule is not None
        start = result.evaluated[0].start.timestamp()
        end = result.evaluated[-1].start.timestamp() + rule.period
        return self.insights.top_contributors(rule.math.insight_rule, start, end)

    def run_forever(self, interval_s: float, stop: threading.Event) -> None:
        """Run a round every `interval_s` until `stop` is set; errors are logged, not raised."""
        failing_since: float | None = None
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.run_once()
                if failing_since is not None:
                    log.info("CloudWatch endpoint answers again")
                failing_since = None
            except Exception as exc:  # the endpoint may be restarting: keep going
                if self.metrics is not None:
                    self.metrics.errors.inc()
                if failing_since is None:
                    failing_since = started
                    log.warning("evaluation round failed: %s", exc)
                else:
                    log.debug("evaluation round failed: %s", exc)
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))


def _is_insight(rule: AlarmRule) -> bool:
    return rule.math is not None and rule.math.kind == INSIGHT
