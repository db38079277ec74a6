"""The Contributor Insights rules of one CloudWatch endpoint, kept up to date from its API and
the local log files, for the alarm evaluator: ``INSIGHT_RULE_METRIC`` datapoints of an alarm's
evaluation range, and the top contributors that named it.

Every ``update`` (once per evaluation round): DescribeInsightRules (only ``ENABLED`` rules are
evaluated, as on AWS a disabled rule collects nothing), then the log events appended since the
last round to the files of every group a rule reads. A period in which a rule was collecting
and matched nothing has the value 0, as the rule's graphs show it (so an alarm on it returns to
OK the period after the failures stop, instead of evaluating its last breaching period for
the whole evaluation range); a period before the rule was seen has no data. A rule that
cannot be evaluated (``rule.InvalidRule``) is logged once and has no data. Prometheus (on the
evaluator's port): ``contributor_insights_rule_enabled{rule}``, and over the last minute
``contributor_insights_max_contributor_value{rule}``,
``contributor_insights_unique_contributors{rule}`` and, for the top three,
``contributor_insights_contributor_value{rule,contributor}`` (keys joined with ``|``).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from local_stack.alarm_evaluator.alarm_rule import AlarmRule
from local_stack.alarm_evaluator.datapoints import range_starts
from local_stack.alarm_evaluator.evaluation import Datapoint
from local_stack.insight_rules.logs import LogTail
from local_stack.insight_rules.report import Contributions, Keys
from local_stack.insight_rules.rule import InsightRule, InvalidRule
from local_stack.log_groups import log_groups

log = logging.getLogger("local_stack.insight_rules")

TOP_N = 3
WINDOW_S = 60.0  # what the Prometheus gauges look back on


class InsightRuleSource:
    """Rules from `cloudwatch`, events from the log files under `log_dir`."""

    def __init__(self, cloudwatch: Any, log_dir: str | Path,
                 clock: Callable[[], float] = time.time) -> None:
        self.cloudwatch = cloudwatch
        self.log_dir = Path(log_dir)
        self.clock = clock
        self.rules: dict[str, InsightRule] = {}
        self.contributions: dict[str, Contributions] = {}
        self._definitions: dict[str, str] = {}
        self._collecting_since: dict[str, float] = {}
        self._rejected: set[tuple[str, str]] = set()
        self._tail = LogTail()

    # -- keeping up -----------------------------------------------------------------------------
    def update(self, now: float | None = None) -> None:
        """Read the rules again, then the new log events."""
        now = self.clock() if now is None else now
        self._refresh_rules()
        for name in self.rules:
            self._collecting_since.setdefault(name, now)
        if not self.rules:
            return
        for group, path in log_groups(self.log_dir).items():
            readers = [rule for rule in self.rules.values() if rule.reads_group(group)]
            if not readers:
                continue
            for at, event in self._tail.read(path, now):
                for rule in readers:
                    contribution = rule.contribution(event)
                    if contribution is not None:
                        self.contributions[rule.name].add(at, *contribution)
        for contributions in self.contributions.values():
            contributions.prune(now)

    def _refresh_rules(self) -> None:
        answer = self.cloudwatch.describe_insight_rules()
        enabled: dict[str, str] = {}
        for item in answer.get("InsightRules", []):
            if str(item.get("State", "")).upper() == "ENABLED":
                enabled[item["Name"]] = item.get("Definition") or ""
        for name, definition in enabled.items():
            if self._definitions.get(name) == definition:
                continue
            try:
                self.rules[name] = InsightRule.parse(name, definition)
            except InvalidRule as exc:
                self.rules.pop(name, None)
                if (name, definition) not in self._rejected:
                    self._rejected.add((name, definition))
                    log.error("Contributor Insights rule %s is not evaluated: %s", name, exc)
            self._definitions[name] = definition
            self.contributions.setdefault(name, Contributions())
        for gone in set(self._definitions) - set(enabled):  # deleted or disabled
            self._definitions.pop(gone, None)
            self.rules.pop(gone, None)
            self.contributions.pop(gone, None)
            self._collecting_since.pop(gone, None)

    # -- answers ----------------------------------------------------------------------------------
    def ranges(self, alarms: Sequence[AlarmRule], now: _dt.datetime
               ) -> dict[str, list[Datapoint]]:
        """The evaluation range of every INSIGHT_RULE_METRIC alarm at `now`: 0 for a period
        the rule collected without a match, None before it collected and for every period of a
        rule that is absent or disabled."""
        out: dict[str, list[Datapoint]] = {}
        for alarm in alarms:
            assert alarm.math is not None and alarm.math.insight_rule is not None
            contributions = (self.contributions.get(alarm.math.insight_rule)
                             if alarm.math.insight_rule in self.rules else None)
            since = self._collecting_since.get(alarm.math.insight_rule)
            points = []
            for start in range_starts(alarm, now):
                value = None
                if contributions is not None and since is not None:
                    begin = start.timestamp()
                    value = contributions.metric(str(alarm.math.insight_metric), begin,
                                                 begin + alarm.period)
                    if value is None and begin + alarm.period > since:
                        value = 0.0
                points.append(Datapoint(start, value))
            out[alarm.name] = points
        return out

    def top_contributors(self, rule: str, start: float, end: float,
                         n: int = TOP_N) -> list[tuple[Keys, float]]:
        contributions = self.contributions.get(rule)
        return contributions.top(start, end, n) if contributions is not None else []

    def collector(self) -> Collector:
        return _InsightCollector(self)

    def register(self, registry: CollectorRegistry) -> None:
        registry.register(self.collector())


class _InsightCollector(Collector):
    def __init__(self, source: InsightRuleSource) -> None:
        self.source = source

    def collect(self) -> Iterable[GaugeMetricFamily]:
        now = self.source.clock()
        enabled = GaugeMetricFamily("contributor_insights_rule_enabled",
                                    "1 for a Contributor Insights rule evaluated locally",
                                    labels=["rule"])
        top_value = GaugeMetricFamily(
            "contributor_insights_max_contributor_value",
            "Value of the top contributor of the rule over the last minute (0: none)",
            labels=["rule"])
        unique = GaugeMetricFamily("contributor_insights_unique_contributors",
                                   "Contributors of the rule over the last minute",
                                   labels=["rule"])
        each = GaugeMetricFamily(
            "contributor_insights_contributor_value",
            f"The top {TOP_N} contributors of the rule over the last minute, by value",
            labels=["rule", "contributor"])
        for name in sorted(self.source.rules):
            contributions = self.source.contributions.get(name)
            enabled.add_metric([name], 1.0)
            if contributions is None:
                continue
            start = now - WINDOW_S
            top_value.add_metric([name], contributions.metric("MaxContributorValue", start,
                                                              now + 1) or 0.0)
            unique.add_metric([name], contributions.metric("UniqueContributors", start,
                                                           now + 1) or 0.0)
            for keys, value in contributions.top(start, now + 1, TOP_N):
                each.add_metric([name, "|".join(keys)], value)
        yield from (enabled, top_value, unique, each)
