"""The capacity search (loadtests.capacity) on a fake target whose latency grows with its load,
its Locust shape, its windows, and the verdict the plugin takes from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from locust.env import Environment
from locust.stats import RequestStats

from loadtests import plugin, windows
from loadtests.capacity import DEFAULT_STEP_GATES, CapacityPlan, CapacitySearch
from loadtests.config import RunConfig, set_run_config
from loadtests.gates import Gate
from loadtests.journeys.browser import BrowserUser
from loadtests.shapes import CapacityShape, build_shape
from tests.loadtests.fake_target import FakeClock, FakeTarget

P99_500 = [Gate("p99", 500.0, "Aggregated"), Gate("failure_ratio", 0.01)]
PLAN = CapacityPlan(max_users=100, step_users=10, step_s=10, settle_s=3)


def drive(search: CapacitySearch, target: FakeTarget, limit_s: int = 2000) -> int:
    """Tick once per simulated second, as Locust's shape worker does; seconds it ran."""
    for second in range(limit_s):
        tick = search.tick(float(second))
        if tick is None:
            return second
        target.set_users(tick[0])
        target.run_second()
    raise AssertionError("the search never ended")


def test_the_knee_is_the_last_step_below_the_latency_gate() -> None:
    target = FakeTarget(capacity_rps=100, base_ms=20, think_s=0.5)  # 2 req/s per user
    search = CapacitySearch(PLAN, P99_500, lambda: target.stats)
    drive(search, target)
    # p99 is 4x the mean latency 20 / (1 - users/50): 400 ms at 40 users, 8 s at 50
    assert [s.users for s in search.steps] == [10, 20, 30, 40, 50]
    assert [s.passed for s in search.steps] == [True, True, True, True, False]
    knee = search.knee
    assert knee is not None and knee.users == 40
    assert knee.rps == pytest.approx(80, rel=0.02)
    assert knee.p99_ms == pytest.approx(4 * target.latency_ms(40), rel=0.05)
    broken = search.steps[-1]
    assert broken.p99_ms > 500
    assert "step 5 (50 users) broke a gate: p99 Aggregated" in search.stopped_because
    # each step is judged on its own window: settle_s left out, step_s - settle_s measured
    assert all(s.window_s == pytest.approx(7) for s in search.steps)
    assert all(s.requests == pytest.approx(7 * 2 * s.users, rel=0.03) for s in search.steps[:4])
    verdict = search.verdict()
    assert verdict and all(r.passed for r in verdict)
    described = json.loads(json.dumps(search.describe()))
    assert described["knee"]["users"] == 40 and described["unbroken"] is False
    assert [s["passed"] for s in described["steps"]] == [True] * 4 + [False]


def test_failures_break_a_step_too() -> None:
    # a shop that fails what it cannot serve, and no latency gate: the failure ratio decides
    target = FakeTarget(capacity_rps=50, base_ms=1, think_s=0.5)
    search = CapacitySearch(PLAN, [Gate("failure_ratio", 0.01)], lambda: target.stats)
    drive(search, target)
    assert search.knee is not None and search.knee.users == 20
    assert search.steps[-1].users == 30 and search.steps[-1].failure_ratio > 0.01
    assert "failure ratio" in search.stopped_because


def test_no_broken_gate_up_to_the_most_users_is_a_lower_bound() -> None:
    target = FakeTarget(capacity_rps=10_000)
    plan = CapacityPlan(max_users=25, step_users=10, step_s=6, settle_s=1)
    search = CapacitySearch(plan, P99_500, lambda: target.stats)
    drive(search, target)
    assert [s.users for s in search.steps] == [10, 20, 25]
    assert search.knee is not None and search.knee.users == 25
    assert search.describe()["unbroken"] is True
    assert "reached the most users (25)" in search.stopped_because


def test_no_step_meets_the_gates() -> None:
    target = FakeTarget(capacity_rps=5)
    search = CapacitySearch(PLAN, P99_500, lambda: target.stats)
    drive(search, target)
    assert len(search.steps) == 1 and search.knee is None
    verdict = search.verdict()
    assert verdict and not any(r.passed for r in verdict)


def test_a_capacity_floor_is_judged_on_the_knee() -> None:
    target = FakeTarget(capacity_rps=100)
    gates = [*P99_500, Gate("min_rps", 100.0)]
    search = CapacitySearch(PLAN, gates, lambda: target.stats)
    drive(search, target)
    assert search.knee is not None and search.knee.users == 40  # min rps does not stop it
    missed = [r for r in search.verdict() if not r.passed]
    assert len(missed) == 1 and missed[0].gate.kind == "min_rps"
    assert "capacity (knee) 80" in missed[0].message and "short by 20" in missed[0].message


def test_the_settle_time_keeps_the_spawn_out_of_the_measure() -> None:
    # 10x latency for 3 s after every change of users: with settle 3 s no step sees it; the
    # same search without a settle time breaks at its first step (the negative control)
    t1 = FakeTarget(transient_s=3)
    settled = CapacitySearch(PLAN, P99_500, lambda: t1.stats)
    drive(settled, t1)
    assert settled.knee is not None and settled.knee.users == 40
    unsettled_plan = CapacityPlan(max_users=100, step_users=10, step_s=10, settle_s=0)
    t2 = FakeTarget(transient_s=3)
    unsettled = CapacitySearch(unsettled_plan, P99_500, lambda: t2.stats)
    drive(unsettled, t2)
    assert unsettled.knee is None and len(unsettled.steps) == 1


def test_default_gates_when_none_is_given_per_step() -> None:
    search = CapacitySearch(PLAN, [Gate("min_rps", 5.0)], lambda: RequestStats())
    assert search.gates == list(DEFAULT_STEP_GATES) and search.defaulted
    assert [g.kind for g in search.knee_gates] == ["min_rps"]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"max_users": 0}, "most users must be >= 1"),
    ({"step_s": 0}, "must last more than 0 s"),
    ({"step_s": 10, "settle_s": 10}, "shorter than the step"),
    ({"max_users": 5, "start_users": 6}, "above the most users"),
])
def test_impossible_plans(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        CapacityPlan(**kwargs)


def test_plan_defaults_and_budget() -> None:
    plan = CapacityPlan(max_users=50, step_s=20)
    assert (plan.step, plan.first_users, plan.settle, plan.rate) == (5, 5, 5.0, 5.0)
    assert plan.steps == 10 and plan.users_of(20) == 50
    assert plan.budget_s() >= 10 * 20


def test_windows_survive_a_stats_reset() -> None:
    stats = RequestStats(use_response_times_cache=False)
    for _ in range(10):
        stats.log_request("GET", "/a", 100, 1)
    start = windows.snapshot(stats, 0.0)
    stats.reset_all()  # a new test from the web UI
    for _ in range(4):
        stats.log_request("GET", "/a", 50, 1)
    window = windows.between(start, windows.snapshot(stats, 2.0))
    assert window.total.num_requests == 4 and window.total.total_rps == 2.0
    assert window.entries[("/a", "GET")].get_response_time_percentile(0.99) == 50


def test_the_shape_ends_the_run_and_describes_the_search() -> None:
    clock, target = FakeClock(), FakeTarget()
    shape = CapacityShape(PLAN, P99_500, clock=clock, stats=lambda: target.stats)
    while (tick := shape.tick()) is not None:
        target.set_users(tick[0])
        target.run_second()
        clock.now += 1
    described = shape.describe()
    assert described["shape"] == "CapacityShape" and described["knee"]["users"] == 40
    assert clock.now < shape.duration_s


def test_the_shape_stops_at_its_time_budget() -> None:
    clock, target = FakeClock(), FakeTarget(capacity_rps=10_000)
    shape = CapacityShape(PLAN, P99_500, clock=clock, stats=lambda: target.stats)
    clock.now = shape.duration_s
    assert shape.tick() is None
    assert "time budget" in shape.search.stopped_because


def test_build_shape_reads_the_capacity_options() -> None:
    options = type("Options", (), {"shape": "capacity", "num_users": 60, "step_users": 15,
                                   "step_duration": 12, "step_settle": 2, "spawn_rate": 30.0,
                                   "gate_p95": ["/v1/products/{sku}=300"]})()
    shape = build_shape(options)
    assert isinstance(shape, CapacityShape)
    assert shape.plan == CapacityPlan(max_users=60, step_users=15, step_s=12, settle_s=2,
                                      spawn_rate=30.0)
    assert [g.label for g in shape.search.gates] == ["p95 /v1/products/{sku}"]


def test_the_plugin_takes_the_verdict_from_the_search(tmp_path: Path) -> None:
    # The run's own statistics include the broken step's failures, so Locust's rule (and the
    # whole-run failure-ratio gate) would fail it: the knee decides instead.
    clock, target = FakeClock(), FakeTarget(capacity_rps=50, base_ms=1)
    shape = CapacityShape(PLAN, [Gate("failure_ratio", 0.01)], clock=clock,
                          stats=lambda: target.stats)
    while (tick := shape.tick()) is not None:
        target.set_users(tick[0])
        target.run_second()
        clock.now += 1
    environment = Environment(user_classes=[BrowserUser], shape_class=shape)
    environment.stats = target.stats
    summary_path = tmp_path / "summary.json"
    set_run_config(environment, RunConfig(json_summary=summary_path))
    plugin.on_quitting(environment)
    assert environment.process_exit_code == 0
    summary = json.loads(summary_path.read_text())
    assert summary["total"]["failures"] > 0 and summary["gates"]["passed"]
    assert summary["shape"]["knee"]["users"] == 20
    # no knee at all: exit 1
    empty = CapacityShape(PLAN, P99_500, clock=FakeClock(), stats=RequestStats)
    environment.shape_class = empty
    plugin.on_quitting(environment)
    assert environment.process_exit_code == 1
