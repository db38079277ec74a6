"""Fake game-day results and journals for the report and budget tests (no processes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gameday.run.results import (
    FAILED,
    NOT_RUN,
    PASSED,
    Check,
    ErrorBudget,
    ExperimentSummary,
    GameDayResult,
    Timing,
)

T0 = 1_800_000_000.0


def journal(t0: float, title: str, outcome: str, verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """A journal.json as chaos.runner writes it, reduced to what reports read."""
    return {
        "run_id": f"run-{title}", "experiment": {"title": title, "description": "d"},
        "variant": "experiment", "seed": 3, "start": "2027-01-15T08:00:00+00:00",
        "start_ts": t0, "end_ts": t0 + 30, "duration": 30.0, "outcome": outcome,
        "status": "completed", "reason": "",
        "faults": [{"ended": {"fault_id": "kill-replica-1", "name": "kill-replica",
                              "step": "kill-payments", "targets": ["payments-1", "payments-2"],
                              "start": t0 + 5, "end": t0 + 20, "role": "fault"}}],
        "timeline": {"series": {
            "breaker:payments": [[t0 + 1, "closed"], [t0 + 6, "open"], [t0 + 25, "closed"]],
            "replicas:payments": [[t0 + 1, 2], [t0 + 6, 0], [t0 + 22, 2]]},
            "alarm_changes": {}},
        "load": {"per_second": [{"t": t0 + i, "ok": 3, "rejected": int(5 < i < 20),
                                 "client": 0, "errors": 0} for i in range(30)]},
        "verdicts": verdicts,
        "steady_states": {"before": {"probes": []}, "after": {"probes": []}},
    }


def result(report_dir: Path) -> GameDayResult:
    """A finished game day: one experiment passed, one failed, one not run; with files."""
    passed = ExperimentSummary(
        name="storefront-replica-killed", title="A storefront replica killed", outcome=PASSED,
        seed=5, started_at=T0 + 20, ended_at=T0 + 50,
        recovery=Timing("storefront replaced", 4.3),
        error_budget=ErrorBudget(0.01, requests=400, failed=1, used=0.25),
        locust={"requests": 100, "failures": 0},
        orders_accepted=18, orders_lost=0, duplicate_orders=0,
        checks=[Check("no accepted order lost", 0, "== 0", True)],
        numbers={"fault_start": T0 + 25, "fault_end": T0 + 28})
    failed = ExperimentSummary(
        name="payments-breaker", title="Payments replicas killed", outcome=FAILED, seed=6,
        started_at=T0 + 60, ended_at=T0 + 90,
        detection=Timing("payments breaker open", None),
        recovery=Timing("payments breaker closed", None),
        error_budget=ErrorBudget(0.01, requests=200, failed=40, used=20.0),
        orders_accepted=8, orders_lost=2, duplicate_orders=0,
        checks=[Check("method-probe: breaker-opens", "closed", "== 'open' within 10s", False),
                Check("no 500 at any time", 12, "== 0", False, "12 checkouts"),
                Check("hypothesis-before: storefront-healthy", 200, "== 200", True)],
        numbers={"fault_start": T0 + 65, "fault_end": T0 + 80,
                 "time_to_breaker_open_s[payments]": None},
        files={"journal": "experiments/payments-breaker/journal.json",
               "html": "experiments/payments-breaker/report.html",
               "junit": "experiments/payments-breaker/junit.xml"})
    not_run = ExperimentSummary(name="poison-record", title="poison-record", outcome=NOT_RUN,
                                seed=7, reason="the game day stopped before it")
    exp_dir = report_dir / "experiments" / "payments-breaker"
    exp_dir.mkdir(parents=True)
    (exp_dir / "journal.json").write_text(json.dumps(journal(T0 + 60, "Payments replicas killed",
                                                             "failed", [
        {"title": "method-probe: breaker-opens", "passed": False, "observed": "closed",
         "expected": "== 'open' within 10s", "detail": ""},
        {"title": "no 500 at any time", "passed": False, "observed": 12, "expected": "== 0",
         "detail": ""}])))
    load = report_dir / "load"
    load.mkdir()
    rows = ["Timestamp,User Count,Type,Name,Requests/s,Failures/s,Total Request Count,"
            "Total Failure Count"]
    for i in range(0, 100, 1):
        rows.append(f"{int(T0) + i},4,,Aggregated,3,0,{3 * i},{max(0, i - 70)}")
    (load / "locust_stats_history.csv").write_text("\n".join(rows) + "\n")
    return GameDayResult(
        started_at=T0, ended_at=T0 + 100, seed=42,
        options={"mode": "custom", "replay": "gameday run --seed 42", "no_breaker": True},
        stack={"first_request_s": 8.1, "ready_s": 9.0, "tcp_ports": [40001]},
        experiments=[passed, failed, not_run],
        load={"users_requested": 42,
              "requested": {"rate": 60.0, "checkout_rate": 2.0, "users": 42, "buyers": 12},
              "duration_s": 100.0,
              "total": {"requests": 5500, "failures": 29, "failure_ratio": 0.005273,
                        "rps": 55.0, "p95_ms": 120, "p99_ms": 300},
              "routes": [{"method": "POST", "name": "/v1/carts/{cart_id}/checkout",
                          "requests": 190, "failures": 0},
                         {"method": "GET", "name": "/v1/products/{sku}", "requests": 5310,
                          "failures": 29}],
              "files": {"html": "report.html"}},
        teardown={"leftovers": [], "summary": "nothing left running or bound"})
