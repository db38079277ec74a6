"""Headline numbers and budgets from an experiment's numbers (pure functions)."""

from __future__ import annotations

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


def test_locust_users_during_each_experiment_are_context_not_the_budget() -> None:
    history = [(100.0, 0, 0), (101.0, 50, 1), (110.0, 150, 3), (120.0, 400, 3)]
    assert headline.locust_window(history, 100.5, 110.5) == (150, 3)
    exp = ExperimentSummary("storefront-replica-killed", "t", "passed", started_at=100.5,
                            ended_at=110.5, error_budget=ErrorBudget(0.1, 70, 1, 0.1429))
    headline.attach_locust([exp], history)
    assert exp.locust == {"requests": 150, "failures": 3, "rps": 15.0}  # 150 in 10 s
    assert exp.error_budget == ErrorBudget(0.1, 70, 1, 0.1429)  # untouched


def test_the_error_budget_is_the_runs_numbers_copied() -> None:
    numbers = {"error_budget_requests": 98, "error_budget_failed": 3,
               "error_budget_ratio": 0.01, "error_budget_used": 3.0612}
    budget = ErrorBudget.from_numbers(numbers)
    assert budget == ErrorBudget(0.01, 98, 3, 3.0612) and budget.over
    assert ErrorBudget.from_numbers({"orders_lost": 0}) is None  # no probe load, no budget
    assert ErrorBudget.from_dict(budget.to_dict()) == budget


def test_budgets_from_the_numbers_with_the_reset_timeout() -> None:
    exp = ExperimentSummary("payments-breaker", "t", "passed", numbers={
        "time_to_breaker_open_s[payments]": 1.7, "time_to_breaker_closed_s[payments]": 8.5,
        "replicas_back_s[payments]": 2.0, "breaker_closed_after_return_s[payments]": 6.5})
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
    # one story: the summary's recovery is the replicas' return plus this budget's number
    assert "recovery 8.5 s after the fault = replicas back 2.0 s + this" in \
        found["breaker_closed_after_return_s[payments]"].source
    assert found["jam_detection_s[inventory-lambda-errors]"].status == "over"
    custom = {b.name: b for b in budgets.compute([], first_request_s=None, total_s=50.0,
                                                 mode="custom")}
    assert custom["total_s"].status == "info"
    assert custom["first_request_s"].status == "not measured"
