"""Headline numbers and budgets from an experiment's numbers (pure functions)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gameday.run import budgets, headline
from gameday.run.results import ErrorBudget, ExperimentSummary, Timing


def test_detection_prefers_the_breaker_and_takes_the_earliest_alarm() -> None:
    assert headline.detection({"time_to_breaker_open_s[payments]": 1.7}) == \
        Timing("payments breaker open", 1.7)
    numbers = {"time_to_alarm_s[shop-inventory-throttles]": 5.4,
               "time_to_alarm_s[shop-inventory-stream-jam]": 31.0}
    assert headline.detection(numbers) == Timing("inventory-throttles ALARM", 5.4)
    assert headline.detection({"orders_lost": 0}) is None


def test_detection_watched_for_but_never_seen_is_never() -> None:
    found = headline.detection({"time_to_breaker_open_s[payments]": None})
    assert found == Timing("payments breaker open", None)


def test_recovery_waits_for_the_slowest_and_says_what_never_recovered() -> None:
    assert headline.recovery({"time_to_breaker_closed_s[payments]": 2.7,
                              "replacement_s[payments]": 16.0}) == \
        Timing("payments breaker closed", 2.7)
    assert headline.recovery({"backlog_drained_s[shop-inventory]": None}) == \
        Timing("inventory backlog drained", None)
    assert headline.recovery({"replacement_s[storefront]": 4.3}) == \
        Timing("storefront replaced", 4.3)


@pytest.mark.parametrize(("status", "retry_after", "failed"), [
    (200, False, False), (409, False, False), (429, False, False), (503, True, False),
    (503, False, True), (500, False, True), (0, False, True), (502, True, True),
])
def test_what_counts_against_the_error_budget(status: int, retry_after: bool,
                                               failed: bool) -> None:
    assert headline.request_failed(status, retry_after) is failed


def test_error_budget_adds_the_probe_load_and_locust_in_the_window() -> None:
    records = [SimpleNamespace(status=s, retry_after=r)
               for s, r in [(200, False)] * 97 + [(503, True), (500, False), (0, False)]]
    history = [(100.0, 0, 0), (101.0, 50, 1), (110.0, 150, 3), (120.0, 400, 3)]
    budget = headline.error_budget(headline.count_probe_requests(records),
                                   headline.locust_window(history, 100.5, 110.5))
    assert budget == ErrorBudget(0.01, probe_requests=100, probe_failed=2,
                                 locust_requests=150, locust_failed=3)
    assert budget.used == pytest.approx(5 / 2.5)
    assert headline.error_budget(None, None) is None
    assert ErrorBudget(0.01).used is None


def test_breaker_closed_after_the_replicas_return() -> None:
    events = [{"kind": "died", "process": "payments-1", "ts": 10.0},
              {"kind": "replaced", "process": "payments-2", "ts": 27.0},
              {"kind": "replaced", "process": "payments-1", "ts": 26.5},
              {"kind": "replaced", "process": "storefront-1", "ts": 20.0}]
    back = headline.returned_at(events, "payments", since=10.0)
    assert back == 26.5
    points = [(25.0, "open"), (27.0, "half_open"), (29.0, "open"), (31.0, "closed"),
              (33.0, "closed")]
    assert headline.breaker_closed_after_return(points, back) == 4.5
    assert headline.breaker_closed_after_return(points[:3], back) is None
    assert headline.breaker_closed_after_return(points, None) is None


def test_budgets_from_the_numbers_with_the_reset_timeout() -> None:
    exp = ExperimentSummary("payments-breaker", "t", "passed", numbers={
        "time_to_breaker_open_s[payments]": 1.7,
        "breaker_closed_after_return_s[payments]": 6.5})
    jam = ExperimentSummary("inventory-lambda-errors", "t", "passed", numbers={
        "time_to_alarm_s[shop-inventory-stream-jam]": 16.0})
    poison = ExperimentSummary("poison-record", "t", "passed", numbers={
        "time_to_alarm_s[shop-stream-stuck-correlation-id]": 50.0})
    silent = ExperimentSummary("stream-consumer-down", "t", "passed", numbers={
        "time_to_alarm_s[shop-inventory-consumer-silent]": 12.0})
    found = {b.name: b for b in budgets.compute(
        [exp, jam, poison, silent], first_request_s=9.0, total_s=100.0, mode="quick",
        breakers={"payments": {"reset_timeout_s": 4.0}})}
    stuck = found["jam_detection_s[poison-record]"]
    assert (stuck.title, stuck.goal_s, stuck.status) == (
        "stuck correlation ID named (poison-record)", 75.0, "within")
    down = found["jam_detection_s[stream-consumer-down]"]
    assert (down.title, down.goal_s) == ("silent consumer detected (stream-consumer-down)", 15.0)
    assert found["first_request_s"].status == "within"
    assert found["total_s"].goal_s == 120.0
    assert found["breaker_open_s[payments]"].status == "within"
    assert found["breaker_closed_after_return_s[payments]"].goal_s == 6.0
    assert found["breaker_closed_after_return_s[payments]"].status == "over"
    assert found["jam_detection_s[inventory-lambda-errors]"].status == "over"
    custom = {b.name: b for b in budgets.compute([], first_request_s=None, total_s=50.0,
                                                 mode="custom")}
    assert custom["total_s"].status == "info"
    assert custom["first_request_s"].status == "not measured"
