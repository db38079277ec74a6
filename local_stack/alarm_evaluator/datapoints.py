"""Fetching each alarm's evaluation range from the CloudWatch API (the evaluator's only reads of
metric data).

Periods are aligned as CloudWatch aligns them (multiples of the period since the epoch) and only
*complete* periods are evaluated: the range of an alarm evaluated at time ``t`` ends at
``floor(t / Period) * Period``. One ``GetMetricData`` call serves every alarm that shares a
period and range length, one query per alarm (Stat = the alarm's Statistic, Unit when the alarm
has one), up to 500 queries a call.

Timing compared with AWS: CloudWatch evaluates high-resolution alarms (10 or 30 s periods) every
10 seconds and standard ones every minute, and data takes a few seconds to become available;
here every alarm is evaluated every ``--interval`` (1 s), so a completed period is seen within
about a second. The ``EvaluationWindow`` setting (sliding or wall-clock window) of newer
PutMetricAlarm versions is not read: periods are always the aligned ones above.

Why GetMetricData and not GetMetricStatistics: moto's GetMetricStatistics starts its buckets at
the first datapoint's timestamp (not aligned to the period) and matches dimensions as a subset,
while GetMetricData buckets from StartTime and matches the dimension set exactly, as AWS does.
A ``FILL(m, n)`` alarm (``alarm_rule.MetricMath``) reads its metric the same way; then the
periods of its range without data get ``n`` (``fill``), unless the range has no data at all.
``INSIGHT_RULE_METRIC`` alarms are not read here (``local_stack.insight_rules`` computes them).

Known moto 5 limitation: with dimensions given, its GetMetricData does not filter on the
namespace, so two metrics with the same name and dimensions in different namespaces would be
merged (plain moto only: the local emulator's ``local_stack.metric_index`` matches the namespace
and the dimension set as AWS does). The shop's metric names do not collide across namespaces.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from local_stack.alarm_evaluator.alarm_rule import AlarmRule
from local_stack.alarm_evaluator.evaluation import Datapoint

MAX_QUERIES_PER_CALL = 500


def as_utc(ts: _dt.datetime) -> _dt.datetime:
    """A timestamp from the API as an aware UTC datetime.

    moto sends naive UTC timestamps, which botocore reads as local time (``tzlocal``); AWS sends
    ``Z`` timestamps. Both mean UTC wall-clock time.
    """
    if ts.tzinfo is None or type(ts.tzinfo).__name__ == "tzlocal":
        return ts.replace(tzinfo=_dt.UTC)
    return ts.astimezone(_dt.UTC)


def range_end(now: _dt.datetime, period: int) -> _dt.datetime:
    """End of the last complete period at `now` (periods aligned on multiples of `period`)."""
    seconds = math.floor(now.timestamp() / period) * period
    return _dt.datetime.fromtimestamp(seconds, _dt.UTC)


def range_starts(rule: AlarmRule, now: _dt.datetime) -> list[_dt.datetime]:
    """Start of every period of the rule's evaluation range at `now`, oldest first."""
    end = range_end(now, rule.period)
    step = _dt.timedelta(seconds=rule.period)
    return [end - step * (rule.range_periods - i) for i in range(rule.range_periods)]


def _query(query_id: str, rule: AlarmRule) -> dict[str, Any]:
    stat: dict[str, Any] = {
        "Metric": {
            "Namespace": rule.namespace,
            "MetricName": rule.metric_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in rule.dimensions],
        },
        "Period": rule.period,
        "Stat": rule.statistic,
    }
    if rule.unit:
        stat["Unit"] = rule.unit
    return {"Id": query_id, "MetricStat": stat, "ReturnData": True}


def fetch_ranges(
    cloudwatch: Any, rules: Sequence[AlarmRule], now: _dt.datetime
) -> dict[str, list[Datapoint]]:
    """The evaluation range of every rule at `now`: alarm name -> datapoints, oldest first,
    value None for a period without data (FILL alarms: filled, see ``fill``)."""
    groups: dict[tuple[int, int], list[AlarmRule]] = defaultdict(list)
    for rule in rules:
        if rule.math is not None and rule.math.kind != "FILL":
            raise ValueError(f"{rule.name}: {rule.math.kind} is not read from GetMetricData")
        groups[(rule.period, rule.range_periods)].append(rule)
    ranges: dict[str, list[Datapoint]] = {}
    for group in groups.values():
        for offset in range(0, len(group), MAX_QUERIES_PER_CALL):
            ranges.update(_fetch_group(cloudwatch, group[offset:offset + MAX_QUERIES_PER_CALL],
                                       now))
    for rule in rules:
        if rule.math is not None and rule.math.fill_value is not None:
            ranges[rule.name] = fill(ranges[rule.name], rule.math.fill_value)
    return ranges


def fill(points: list[Datapoint], value: float) -> list[Datapoint]:
    """CloudWatch's FILL(m, value) over an evaluation range: periods without data get `value`;
    a range without any data stays empty (the expression returns no datapoints, and the
    alarm's TreatMissingData applies)."""
    if all(dp.value is None for dp in points):
        return points
    return [dp if dp.value is not None else Datapoint(dp.start, value) for dp in points]


def _fetch_group(
    cloudwatch: Any, rules: Sequence[AlarmRule], now: _dt.datetime
) -> dict[str, list[Datapoint]]:
    starts = range_starts(rules[0], now)
    period = _dt.timedelta(seconds=rules[0].period)
    start, end = starts[0], starts[-1] + period
    index = {ts: i for i, ts in enumerate(starts)}
    values: dict[str, dict[int, float]] = {rule.name: {} for rule in rules}
    by_id = {f"q{i}": rule for i, rule in enumerate(rules)}
    request: dict[str, Any] = {
        "MetricDataQueries": [_query(qid, rule) for qid, rule in by_id.items()],
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    while True:
        answer = cloudwatch.get_metric_data(**request)
        for result in answer.get("MetricDataResults", []):
            rule = by_id.get(result.get("Id", ""))
            if rule is None:
                continue
            for ts, value in zip(result.get("Timestamps", []), result.get("Values", []),
                                 strict=False):
                slot = index.get(as_utc(ts))
                if slot is not None and value is not None:
                    values[rule.name][slot] = float(value)
        token = answer.get("NextToken")
        if not token:
            break
        request["NextToken"] = token
    return {
        name: [Datapoint(start=ts, value=slots.get(i)) for i, ts in enumerate(starts)]
        for name, slots in values.items()
    }
