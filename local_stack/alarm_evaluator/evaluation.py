"""How CloudWatch decides a metric alarm's state from its datapoints: pure functions, no I/O.

Why hand-written: moto stores alarms but never evaluates them, and no library reproduces
CloudWatch's rules. These are the rules the CloudWatch user guide documents ("Using Amazon
CloudWatch alarms": *Evaluating an alarm*, *How alarm state is evaluated when data is missing*,
*Avoiding premature transitions to alarm state*), applied to the datapoints of the alarm's
*evaluation range* (oldest first, one per period, ``None`` for a period without data):

1. Enough real datapoints (at least ``EvaluationPeriods``): the most recent ``EvaluationPeriods``
   real datapoints are evaluated, reaching back into the range over missing periods; the
   TreatMissingData setting is not used. ``DatapointsToAlarm`` (M) or more breaching → ALARM,
   otherwise OK.
2. No real datapoint at all: ``missing`` → INSUFFICIENT_DATA, ``ignore`` → keep the current state,
   ``breaching`` → ALARM, ``notBreaching`` → OK.
3. Some, but fewer than ``EvaluationPeriods``: every real datapoint counts, and only as many
   periods as needed are filled in with the missing-data treatment. ``breaching`` fills count
   as breaching, ``notBreaching`` fills as not breaching. ``missing`` and ``ignore`` fill with
   nothing: M breaching real datapoints → ALARM; else any non-breaching real datapoint → OK;
   else (only breaching, too few): ``missing`` goes to ALARM when the oldest breaching datapoint
   is at least M periods old (the documented *premature alarm* rule, "- - X - -" with M = 3),
   and otherwise to INSUFFICIENT_DATA; ``ignore`` keeps the current state.

Every row of the two tables in the user guide (M = N = 3 and M = 2, N = 3, evaluation range 5)
is a unit test in ``tests/alarms/test_evaluation.py``.

Two points the documentation leaves open, decided here and kept visible:

* The size of the evaluation range ("depends on the length of the alarm period and whether it is
  based on a metric with standard resolution or high resolution"): ``EvaluationPeriods + 2``,
  which is what the documented examples use (3 evaluation periods, range 5).
* The premature-alarm paragraph says the oldest breaching datapoint must be "at least as old as
  the value of Datapoints to Alarm" and, for M out of N, "... of Evaluation Periods"; the M out
  of N table row ("- - - X -", M = 2, N = 3 → ALARM) only fits the first reading, so M is used.
"""

from __future__ import annotations

import datetime as _dt
import enum
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

EVALUATION_RANGE_EXTRA_PERIODS = 2


class State(enum.StrEnum):
    """The three states of a CloudWatch metric alarm."""

    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class TreatMissingData(enum.StrEnum):
    """PutMetricAlarm ``TreatMissingData``; ``missing`` is AWS's default."""

    MISSING = "missing"
    IGNORE = "ignore"
    BREACHING = "breaching"
    NOT_BREACHING = "notBreaching"


class Outcome(enum.StrEnum):
    """Which documented rule decided the state (drives the StateReason wording)."""

    THRESHOLD = "threshold"  # rules 1 and 3: datapoints compared with the threshold
    ALL_MISSING = "all_missing"  # rule 2
    PREMATURE_ALARM = "premature_alarm"  # rule 3, oldest breaching datapoint old enough
    TOO_FEW_DATAPOINTS = "too_few_datapoints"  # rule 3, only young breaching datapoints


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
# How CloudWatch words each operator in a StateReason ("... was greater than the threshold").
COMPARISON_WORDS: dict[str, str] = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
# Anomaly-detection band operators: valid on AWS, but they need a band model (ThresholdMetricId)
# that nothing local computes; alarms using them are rejected with a clear message.
ANOMALY_COMPARISONS = frozenset({
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
})
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


@dataclass(frozen=True)
class Datapoint:
    """One period of the evaluation range: its start, and the statistic's value (None: no data)."""

    start: _dt.datetime
    value: float | None


@dataclass(frozen=True)
class Evaluation:
    """The result of one evaluation.

    ``state`` is None when the alarm keeps its current state (``ignore`` with nothing to go on).
    ``evaluated`` are the datapoints the decision used, oldest first; ``filled`` of them are
    missing periods filled in with the missing-data treatment (their ``value`` is None).
    """

    state: State | None
    outcome: Outcome
    evaluated: tuple[Datapoint, ...]
    breaching: int
    filled: int
    treat_missing_data: TreatMissingData


def evaluation_range(evaluation_periods: int) -> int:
    """How many periods CloudWatch retrieves for an alarm of N evaluation periods (see module)."""
    return evaluation_periods + EVALUATION_RANGE_EXTRA_PERIODS


def is_breaching(value: float, comparison_operator: str, threshold: float) -> bool:
    """True when `value` is on the alarming side of the threshold."""
    try:
        compare = COMPARISONS[comparison_operator]
    except KeyError:
        raise ValueError(f"unsupported ComparisonOperator {comparison_operator!r}") from None
    return compare(value, threshold)


def evaluate(
    window: Sequence[Datapoint],
    *,
    evaluation_periods: int,
    datapoints_to_alarm: int,
    threshold: float,
    comparison_operator: str,
    treat_missing_data: TreatMissingData | str = TreatMissingData.MISSING,
) -> Evaluation:
    """Evaluate an alarm over its evaluation range `window` (oldest first, one entry per period).

    The caller passes the whole range (normally ``evaluation_range(evaluation_periods)``
    periods); see the module docstring for the rules.
    """
    n, m = evaluation_periods, datapoints_to_alarm
    if n < 1 or not 1 <= m <= n:
        raise ValueError(f"need 1 <= DatapointsToAlarm ({m}) <= EvaluationPeriods ({n})")
    if len(window) < n:
        raise ValueError(f"the evaluation range ({len(window)}) is shorter than {n} periods")
    treat = TreatMissingData(treat_missing_data)

    def breach(dp: Datapoint) -> bool:
        assert dp.value is not None
        return is_breaching(dp.value, comparison_operator, threshold)

    real = [dp for dp in window if dp.value is not None]
    if len(real) >= n:  # rule 1
        used = tuple(real[-n:])
        count = sum(map(breach, used))
        return Evaluation(State.ALARM if count >= m else State.OK, Outcome.THRESHOLD, used,
                          count, 0, treat)

    fill = n - len(real)
    # The fills stand for the most recent missing periods.
    missing_slots = [dp for dp in window if dp.value is None][-fill:]
    evaluated = tuple(sorted([*real, *missing_slots], key=lambda dp: dp.start))

    if not real:  # rule 2
        all_missing = {
            TreatMissingData.MISSING: State.INSUFFICIENT_DATA,
            TreatMissingData.IGNORE: None,
            TreatMissingData.BREACHING: State.ALARM,
            TreatMissingData.NOT_BREACHING: State.OK,
        }[treat]
        count = fill if treat is TreatMissingData.BREACHING else 0
        return Evaluation(all_missing, Outcome.ALL_MISSING, evaluated, count, fill, treat)

    # rule 3
    real_breaching = sum(map(breach, real))
    if treat is TreatMissingData.BREACHING:
        count = real_breaching + fill
        return Evaluation(State.ALARM if count >= m else State.OK, Outcome.THRESHOLD, evaluated,
                          count, fill, treat)
    if treat is TreatMissingData.NOT_BREACHING or real_breaching >= m:
        state = State.ALARM if real_breaching >= m else State.OK
        return Evaluation(state, Outcome.THRESHOLD, evaluated, real_breaching, fill, treat)
    if real_breaching < len(real):  # some real datapoint is not breaching
        return Evaluation(State.OK, Outcome.THRESHOLD, evaluated, real_breaching, fill, treat)
    if treat is TreatMissingData.MISSING and _oldest_breaching_age(window) >= m:
        return Evaluation(State.ALARM, Outcome.PREMATURE_ALARM, evaluated, real_breaching, fill,
                          treat)
    state = State.INSUFFICIENT_DATA if treat is TreatMissingData.MISSING else None
    return Evaluation(state, Outcome.TOO_FEW_DATAPOINTS, evaluated, real_breaching, fill, treat)


def _oldest_breaching_age(window: Sequence[Datapoint]) -> int:
    """Age in periods (newest period = 1) of the oldest real datapoint of the range."""
    for index, dp in enumerate(window):
        if dp.value is not None:
            return len(window) - index
    return 0
