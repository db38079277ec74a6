"""Unit tests of local_stack.alarm_evaluator.evaluation, one documented rule at a time.

The two tables are those of the CloudWatch user guide, "How alarm state is evaluated when data
is missing" (evaluation range 5, most recent datapoint on the right; 0 = not breaching,
X = breaching, - = missing), including the "premature alarm state" rows.
"""

from __future__ import annotations

import datetime as dt

import pytest

from local_stack.alarm_evaluator.evaluation import (
    Datapoint,
    Outcome,
    State,
    TreatMissingData,
    evaluate,
    evaluation_range,
    is_breaching,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RETAIN = None  # "Retain current state"
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


def window(pattern: str, period_s: int = 300) -> list[Datapoint]:
    """'0 - X' -> datapoints, oldest first (0: 0.0 not breaching, X: 5.0 breaching vs >= 1)."""
    values = {"0": 0.0, "X": 5.0, "-": None}
    return [Datapoint(T0 + dt.timedelta(seconds=i * period_s), values[c])
            for i, c in enumerate(pattern.split())]


def run(pattern: str, n: int, m: int, treat: str) -> State | None:
    return evaluate(window(pattern), evaluation_periods=n, datapoints_to_alarm=m, threshold=1.0,
                    comparison_operator="GreaterThanOrEqualToThreshold",
                    treat_missing_data=treat).state


ALM, OK_, INS = State.ALARM, State.OK, State.INSUFFICIENT_DATA

# Datapoints to Alarm = Evaluation Periods = 3.
TABLE_3_OF_3 = [
    ("0 - X - X", (OK_, OK_, OK_, OK_)),
    ("0 - - - -", (OK_, OK_, OK_, OK_)),
    ("- - - - -", (INS, RETAIN, ALM, OK_)),
    ("0 X X - X", (ALM, ALM, ALM, ALM)),
    ("- - X - -", (ALM, RETAIN, ALM, OK_)),  # premature alarm state
    # rows of earlier editions of the same page
    ("- - - - X", (INS, RETAIN, ALM, OK_)),
    ("X - - - -", (ALM, RETAIN, ALM, OK_)),
]
# Datapoints to Alarm = 2, Evaluation Periods = 3.
TABLE_2_OF_3 = [
    ("0 - X - X", (ALM, ALM, ALM, ALM)),
    ("0 0 X 0 X", (ALM, ALM, ALM, ALM)),
    ("0 - X - -", (OK_, OK_, ALM, OK_)),
    ("- - - - 0", (OK_, OK_, ALM, OK_)),
    ("- - - X -", (ALM, RETAIN, ALM, OK_)),  # premature alarm state
    ("- - - - X", (INS, RETAIN, ALM, OK_)),  # earlier edition
]


@pytest.mark.parametrize("pattern,expected", TABLE_3_OF_3)
@pytest.mark.parametrize("treat_index", range(4), ids=TREATMENTS)
def test_documented_table_3_out_of_3(pattern: str, expected: tuple, treat_index: int) -> None:
    assert run(pattern, 3, 3, TREATMENTS[treat_index]) == expected[treat_index]


@pytest.mark.parametrize("pattern,expected", TABLE_2_OF_3)
@pytest.mark.parametrize("treat_index", range(4), ids=TREATMENTS)
def test_documented_table_2_out_of_3(pattern: str, expected: tuple, treat_index: int) -> None:
    assert run(pattern, 3, 2, TREATMENTS[treat_index]) == expected[treat_index]


def test_evaluation_range_is_n_plus_two_as_in_the_documented_examples() -> None:
    assert evaluation_range(3) == 5
    assert evaluation_range(1) == 3


@pytest.mark.parametrize("operator,value,breaching", [
    ("GreaterThanThreshold", 10.0, False),
    ("GreaterThanThreshold", 10.5, True),
    ("GreaterThanOrEqualToThreshold", 10.0, True),
    ("GreaterThanOrEqualToThreshold", 9.9, False),
    ("LessThanThreshold", 10.0, False),
    ("LessThanThreshold", 9.9, True),
    ("LessThanOrEqualToThreshold", 10.0, True),
    ("LessThanOrEqualToThreshold", 10.1, False),
])
def test_comparison_operators(operator: str, value: float, breaching: bool) -> None:
    assert is_breaching(value, operator, 10.0) is breaching
    result = evaluate([Datapoint(T0, value)] * 3, evaluation_periods=1, datapoints_to_alarm=1,
                      threshold=10.0, comparison_operator=operator)
    assert result.state is (State.ALARM if breaching else State.OK)


def test_anomaly_operator_is_rejected_by_the_pure_rules() -> None:
    with pytest.raises(ValueError, match="unsupported ComparisonOperator"):
        is_breaching(1.0, "LessThanLowerOrGreaterThanUpperThreshold", 0.0)


def test_enough_real_datapoints_use_the_most_recent_n_and_ignore_the_treatment() -> None:
    # 4 real datapoints >= N=3: the latest three are X 0 X -> 2 breaching.
    for treat in TREATMENTS:
        assert run("X - X 0 X", 3, 2, treat) is State.ALARM
        assert run("X - X 0 X", 3, 3, treat) is State.OK


def test_m_out_of_n_breaching_datapoints_need_not_be_consecutive() -> None:
    assert run("0 X 0 X 0", 5, 2, "missing") is State.ALARM
    assert run("0 X 0 0 0", 5, 2, "missing") is State.OK


def test_breaching_fills_only_as_many_missing_periods_as_needed() -> None:
    result = evaluate(window("- 0 - - -"), evaluation_periods=3, datapoints_to_alarm=3,
                      threshold=1.0, comparison_operator="GreaterThanOrEqualToThreshold",
                      treat_missing_data="breaching")
    assert result.filled == 2 and result.breaching == 2 and result.state is State.OK
    # the fills are the most recent missing periods
    assert [dp.value for dp in result.evaluated] == [0.0, None, None]
    assert result.evaluated[-1].start == window("- 0 - - -")[-1].start


def test_all_missing_per_treatment() -> None:
    expected = {"missing": State.INSUFFICIENT_DATA, "ignore": None, "breaching": State.ALARM,
                "notBreaching": State.OK}
    for treat, state in expected.items():
        result = evaluate(window("- - -"), evaluation_periods=1, datapoints_to_alarm=1,
                          threshold=1.0, comparison_operator="GreaterThanThreshold",
                          treat_missing_data=treat)
        assert result.state is state
        assert result.outcome is Outcome.ALL_MISSING


def test_stalled_jam_alarm_breaching_vs_missing_negative_control() -> None:
    """The stream-jam shape (1 of 1, range 3): a consumer that stops publishing IteratorAge."""
    healthy = "0 0 0"
    stalling = ["0 0 -", "0 - -", "- - -"]
    assert run(healthy, 1, 1, "breaching") is State.OK
    assert [run(p, 1, 1, "breaching") for p in stalling] == [State.OK, State.OK, State.ALARM]
    assert [run(p, 1, 1, "missing") for p in stalling] == [
        State.OK, State.OK, State.INSUFFICIENT_DATA]  # never ALARM: the stall goes unnoticed


def test_premature_rule_only_for_missing_and_only_without_non_breaching_data() -> None:
    assert run("- - X - -", 3, 3, "missing") is State.ALARM
    assert run("- - - X -", 3, 3, "missing") is State.INSUFFICIENT_DATA  # X only 2 periods old
    assert run("0 - X - -", 3, 3, "missing") is State.OK  # a real non-breaching datapoint
    result = evaluate(window("- - X - -"), evaluation_periods=3, datapoints_to_alarm=3,
                      threshold=1.0, comparison_operator="GreaterThanOrEqualToThreshold",
                      treat_missing_data=TreatMissingData.MISSING)
    assert result.outcome is Outcome.PREMATURE_ALARM


def test_one_breaching_datapoint_is_enough_when_m_is_one() -> None:
    assert run("- - - - X", 3, 1, "missing") is State.ALARM
    assert run("- - - - X", 3, 1, "ignore") is State.ALARM


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        run("0 0 0", 2, 3, "missing")  # M > N
    with pytest.raises(ValueError):
        run("0", 3, 1, "missing")  # range shorter than N
    with pytest.raises(ValueError):
        run("0 0 0", 1, 1, "sometimes")
