"""The ``StateReason`` text and ``StateReasonData`` JSON written with each state change, shaped
like CloudWatch's own (pure, no I/O).

CloudWatch's reasons read, for example, ``Threshold Crossed: 1 out of the last 1 datapoints
[5000.0 (22/11/26 08:09:00)] was greater than the threshold (3000.0) (minimum 1 datapoint for
OK -> ALARM transition).`` and the JSON carries ``version``, ``queryDate``, ``startDate``,
``statistic``, ``period``, ``recentDatapoints``, ``threshold`` and ``evaluatedDatapoints``
(newest first; a filled-in missing period has a timestamp and no value). The per-datapoint
``sampleCount`` CloudWatch adds is left out: it would double the GetMetricData work.
"""

from __future__ import annotations

import datetime as _dt
import json

from local_stack.alarm_evaluator.alarm_rule import AlarmRule
from local_stack.alarm_evaluator.evaluation import (
    COMPARISON_WORDS,
    Datapoint,
    Evaluation,
    Outcome,
    State,
    TreatMissingData,
    is_breaching,
)

# SetAlarmState limits: StateReason 1023 characters, StateReasonData 4000.
MAX_REASON_CHARS = 1023
MAX_REASON_DATA_CHARS = 4000
MAX_LISTED_DATAPOINTS = 10

_FILL_WORD = {
    TreatMissingData.BREACHING: "Breaching",
    TreatMissingData.NOT_BREACHING: "NonBreaching",
}


def iso(ts: _dt.datetime) -> str:
    """CloudWatch's JSON timestamp form: 2026-11-22T08:09:00.000+0000."""
    ts = ts.astimezone(_dt.UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}+0000"


def _short(ts: _dt.datetime) -> str:
    return ts.astimezone(_dt.UTC).strftime("%d/%m/%y %H:%M:%S")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def _listing(points: list[Datapoint]) -> str:
    shown = [f"{dp.value} ({_short(dp.start)})" for dp in points[:MAX_LISTED_DATAPOINTS]]
    if len(points) > MAX_LISTED_DATAPOINTS:
        shown.append("...")
    return "[" + ", ".join(shown) + "]"


Contributors = list[tuple[tuple[str, ...], float]]


def state_reason(rule: AlarmRule, result: Evaluation, old_state: str,
                 contributors: Contributors | None = None) -> str:
    """The human-readable StateReason for `result` (old_state: the state being left); an
    insight alarm's top contributor, when given, is named at the end."""
    text = _state_reason(rule, result, old_state)
    if contributors:
        keys, value = contributors[0]
        text += f" Top contributor: {', '.join(keys)} ({value:g})."
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS - 3] + "..."


def _state_reason(rule: AlarmRule, result: Evaluation, old_state: str) -> str:
    assert result.state is not None
    words = COMPARISON_WORDS[rule.comparison_operator]
    threshold = float(rule.threshold)
    n, m = rule.evaluation_periods, rule.datapoints_to_alarm
    real = [dp for dp in reversed(result.evaluated) if dp.value is not None]  # newest first
    hits = [dp for dp in real
            if is_breaching(float(dp.value or 0.0), rule.comparison_operator, threshold)]
    fill_note = ""
    if result.filled and result.treat_missing_data in _FILL_WORD:
        fill_note = (f" {_plural(result.filled, 'missing datapoint')} {_was(result.filled)} "
                     f"treated as [{_FILL_WORD[result.treat_missing_data]}].")

    if result.outcome is Outcome.ALL_MISSING:
        if result.state is State.INSUFFICIENT_DATA:
            return (f"Insufficient Data: {_plural(rule.range_periods, 'datapoint')} "
                    f"{_was(rule.range_periods)} unknown.")
        return (f"Threshold Crossed: no datapoints were received for "
                f"{_plural(rule.range_periods, 'period')} and "
                f"{_plural(result.filled, 'missing datapoint')} {_was(result.filled)} treated as "
                f"[{_FILL_WORD[result.treat_missing_data]}].")
    if result.outcome is Outcome.TOO_FEW_DATAPOINTS:
        return (f"Insufficient Data: only {_plural(len(hits), 'datapoint')} {_listing(hits)} "
                f"{_was(len(hits))} received in the last {_plural(rule.range_periods, 'period')},"
                f" too recent for an ALARM (minimum {_plural(m, 'datapoint')} for "
                f"{old_state} -> ALARM transition).")
    if result.outcome is Outcome.PREMATURE_ALARM:
        return (f"Threshold Crossed: {len(hits)} out of the last {n} datapoints {_listing(hits)} "
                f"{_was(len(hits))} {words} the threshold ({threshold}) and no datapoint since "
                f"was within it (oldest breaching datapoint at least {_plural(m, 'period')} old;"
                f" minimum {_plural(m, 'datapoint')} for {old_state} -> ALARM transition).")
    if result.state is State.ALARM:
        shown = hits or real
        return (f"Threshold Crossed: {result.breaching} out of the last {n} datapoints "
                f"{_listing(shown)} {_was(result.breaching)} {words} the threshold "
                f"({threshold}) (minimum {_plural(m, 'datapoint')} for {old_state} -> ALARM "
                f"transition).{fill_note}")
    if result.breaching:
        return (f"Threshold Crossed: {result.breaching} out of the last {n} datapoints "
                f"{_was(result.breaching)} {words} the threshold ({threshold}), fewer than the "
                f"{m} needed for ALARM; most recent datapoints {_listing(real)}.{fill_note}")
    return (f"Threshold Crossed: {_plural(len(real), 'datapoint')} {_listing(real)} "
            f"{_was(len(real))} not {words} the threshold ({threshold}).{fill_note}")


def state_reason_data(rule: AlarmRule, result: Evaluation, query_date: _dt.datetime,
                      contributors: Contributors | None = None) -> str:
    """The StateReasonData JSON document for `result`; with `contributors` (an insight alarm
    going to ALARM) also ``topContributors`` (local: AWS readers ask GetInsightRuleReport)."""
    newest_first = list(reversed(result.evaluated))
    evaluated = []
    for dp in newest_first:
        item: dict[str, object] = {"timestamp": iso(dp.start)}
        if dp.value is not None:
            item["value"] = dp.value
        evaluated.append(item)
    data: dict[str, object] = {
        "version": "1.0",
        "queryDate": iso(query_date),
        "statistic": rule.statistic,
        "period": rule.period,
        "recentDatapoints": [dp.value for dp in result.evaluated if dp.value is not None],
        "threshold": float(rule.threshold),
        "evaluatedDatapoints": evaluated,
    }
    if result.evaluated:
        data["startDate"] = iso(result.evaluated[0].start)
    if rule.unit:
        data["unit"] = rule.unit
    if contributors is not None:
        data["topContributors"] = [{"Keys": list(keys), "ApproximateAggregateValue": value}
                                   for keys, value in contributors]
    return _fitted(data, evaluated)


def _fitted(data: dict[str, object], evaluated: list[dict[str, object]]) -> str:
    """The JSON text, keeping only as many of the most recent datapoints as fit the limit."""
    recent = list(data["recentDatapoints"])  # type: ignore[call-overload]

    def text(keep: int) -> str:
        data["evaluatedDatapoints"] = evaluated[:keep]  # newest first
        data["recentDatapoints"] = recent[len(recent) - min(keep, len(recent)):]
        return json.dumps(data, separators=(",", ":"))

    if len(full := text(len(evaluated))) <= MAX_REASON_DATA_CHARS:
        return full
    low, high = 0, len(evaluated)  # the largest `keep` that fits, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if len(text(middle)) <= MAX_REASON_DATA_CHARS:
            low = middle
        else:
            high = middle - 1
    return text(low)
