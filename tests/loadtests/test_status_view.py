"""The Game day view (loadtests.status_view): what the tab and `gameday status --watch` show."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from loadtests.status import BreakerSince, alarm_entry
from loadtests.status_view import (
    STALE_AFTER_S,
    alarm_condition,
    build_view,
    fmt_number,
    text_lines,
)

NOW = 1_900_000_000.0


def described(name: str, state: str, since: float, latest: float | None = None,
              metric: str = "IteratorAge", threshold: float = 3000.0) -> dict[str, Any]:
    """An alarm as CloudWatch's describe_alarms answers (the local evaluator's reason data)."""
    data = {"version": "1.0", "statistic": "Maximum", "period": 10, "threshold": threshold,
            "recentDatapoints": [] if latest is None else [1.0, latest]}
    return {"AlarmName": name, "StateValue": state, "MetricName": metric,
            "Statistic": "Maximum", "Period": 10, "Threshold": threshold,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "breaching",
            "StateReason": f"Threshold Crossed: 1 datapoint [{latest} (..)] was greater ...",
            "StateReasonData": json.dumps(data),
            "StateUpdatedTimestamp": dt.datetime.fromtimestamp(since, dt.UTC)}


def status(**extra: Any) -> dict[str, Any]:
    alarms = [alarm_entry(described(f"shop-{n:02d}-ok", "OK", NOW - 300, 10.0))
              for n in range(22)]
    alarms += [alarm_entry(described("shop-weekly-view-errors", "INSUFFICIENT_DATA",
                                     NOW - 300)),
               alarm_entry(described("shop-inventory-stream-jam", "ALARM", NOW - 35,
                                     797.4221706390381 + 5000))]
    base = {"generated_at": NOW, "state_dir": "/tmp/s",
            "read_at": {"faults": NOW, "breakers": NOW - 0.4, "alarms": NOW - 0.4},
            "errors": {}, "counters": {},
            "faults": [{"name": "kill-replica", "target": "payments-1, payments-2",
                        "started_at": NOW - 5, "ends_at": NOW + 10, "fault_id": "k"},
                       {"name": "service-latency", "target": "payments",
                        "started_at": NOW - 1, "ends_at": NOW + 3, "fault_id": "l"}],
            "breakers": [{"name": "payments", "state": "open", "since": NOW - 7,
                          "since_exact": True, "fail_counter": 5, "fail_max": 5,
                          "seconds_until_half_open": 2.6, "reset_timeout_s": 5.0},
                         {"name": "reviews", "state": "closed", "since": NOW - 60,
                          "since_exact": False, "fail_counter": 0, "fail_max": 5}],
            "alarms": sorted(alarms, key=lambda a: a["name"])}
    return {**base, **extra}


def test_alarms_in_alarm_come_first_and_the_rest_is_one_line() -> None:
    view = build_view(status())
    assert [a["name"] for a in view["alarms_firing"]] == ["shop-inventory-stream-jam"]
    assert len(view["alarms_other"]) == 23
    assert view["alarms_other_summary"] == "1 INSUFFICIENT_DATA · 22 OK"
    lines = text_lines(view, NOW)
    alarms = lines[lines.index(next(x for x in lines if x.startswith("ALARMS"))):]
    assert alarms[1].startswith("  ! shop-inventory-stream-jam") and "ALARM since" in alarms[1]
    assert alarms[3] == "  + 23 others: 1 INSUFFICIENT_DATA · 22 OK"
    assert not any("shop-03-ok" in line for line in lines)  # collapsed


def test_numbers_have_units_and_a_sensible_precision() -> None:
    alarm = alarm_entry(described("jam", "ALARM", NOW, 797.4221706390381))
    assert alarm_condition(alarm) == "IteratorAge maximum per 10 s 0.8 s (alarms > 3.0 s)"
    errors = alarm_entry(described("errors", "ALARM", NOW, 4.0, metric="Errors",
                                   threshold=3.0))
    assert alarm_condition(errors) == "Errors maximum per 10 s 4 (alarms > 3)"
    silent = alarm_entry(described("silent", "ALARM", NOW))
    assert "no datapoint (missing data: breaching)" in alarm_condition(silent)
    assert [fmt_number(v) for v in (3.0, 0.25, 12.55, 797.42, 0.000123)] == [
        "3", "0.25", "12.6", "797", "0.00012"]
    text = "\n".join(text_lines(build_view(status()), NOW))
    assert "797.42" not in text and "5797" not in text and "5.8 s" in text


def test_faults_soonest_first_with_countdown_breakers_with_since_when() -> None:
    lines = text_lines(build_view(status()), NOW)
    faults = [x for x in lines if x.startswith("  ▲")]
    assert "service-latency" in faults[0] and "3.0 s left" in faults[0]
    assert "kill-replica" in faults[1] and "10 s left" in faults[1]
    [payments] = [x for x in lines if "payments " in x and "OPEN" in x]
    assert payments.startswith("  ! payments")
    assert "since " in payments and "(7.0 s)" in payments
    assert "failures 5/5" in payments and "half-open in 2.2 s" in payments
    [reviews] = [x for x in lines if x.strip().startswith("reviews")]
    assert "since before" in reviews and "+)" in reviews  # it was closed before we looked


def test_every_reading_says_its_age_and_an_old_alarm_is_not_shown_as_current() -> None:
    fresh = text_lines(build_view(status()), NOW)
    assert any(x.startswith("ALARMS (read 0.4 s ago)") for x in fresh)
    later = NOW + STALE_AFTER_S + 85  # the same reading, 90 s on (e.g. nothing polled since)
    old = text_lines(build_view(status()), later)
    [header] = [x for x in old if x.startswith("ALARMS")]
    assert "STALE, not current" in header
    [jam] = [x for x in old if "shop-inventory-stream-jam" in x]
    assert "last seen ALARM" in jam
    assert not any(x.startswith("  ! payments") for x in old)  # an old OPEN is not flagged
    broken = build_view(status(errors={"alarms": "ConnectTimeout"}))
    assert any("unavailable: ConnectTimeout" in x for x in text_lines(broken, NOW))


def test_breaker_since_when() -> None:
    since = BreakerSince()
    [first] = since.update([{"name": "payments", "state": "closed"}], NOW)
    assert (first["since"], first["since_exact"]) == (NOW, False)
    [same] = since.update([{"name": "payments", "state": "closed"}], NOW + 5)
    assert (same["since"], same["since_exact"]) == (NOW, False)
    [opened] = since.update([{"name": "payments", "state": "open",
                              "opened_at": NOW + 6.25}], NOW + 7)
    assert (opened["since"], opened["since_exact"]) == (NOW + 6.25, True)  # the shop's
    [closed] = since.update([{"name": "payments", "state": "closed"}], NOW + 20)
    assert (closed["since"], closed["since_exact"]) == (NOW + 20, True)


@pytest.mark.parametrize("value, text", [(0, "0"), (-2.5, "-2.5"), (150.0, "150"),
                                         (float("nan"), "?")])
def test_fmt_number(value: float, text: str) -> None:
    assert fmt_number(value) == text
