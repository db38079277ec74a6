"""One truth about the error budget: the share the game day shows is the share the
experiment's own budget verdict judged, so a PASSED experiment can never show more than 100 %
(issue 14: "error budget used 306 %" in red beside PASSED)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.load.records import RequestRecord
from chaos.runner.outcome import PASSED, RunResult, decide
from chaos.verdicts import Observations, Verdict, error_budget_verdict, standard_numbers
from gameday.run import cells
from gameday.run.experiment_phase import ExperimentPhase

T0 = 1_800_000_000.0


def run_with(failed: int, total: int, ratio: float, tmp: Path) -> tuple[RunResult, object]:
    records = [RequestRecord(T0 + i * 0.1, 0.05, "browse", 0 if i < failed else 200)
               for i in range(total)]
    obs = Observations(run_start=T0, run_end=T0 + total * 0.1 + 1, records=records,
                       faults=[{"fault_id": "f", "name": "kill-replica", "step": "kill",
                                "targets": ["storefront-2"], "start": T0 + 1,
                                "end": T0 + 4}])
    verdicts = [Verdict("no accepted order lost", "verdict", 0, "== 0", True)]
    budget = error_budget_verdict(obs, ratio)
    assert budget is not None
    verdicts.append(budget)
    result = RunResult("run-x", "A storefront replica killed", "experiment",
                       decide(False, "", False, verdicts), verdicts,
                       standard_numbers(obs, {}, ratio), tmp, started_at=T0,
                       ended_at=obs.run_end, observations=obs)
    phase = ExperimentPhase("storefront-replica-killed", tmp / "x.yaml", tmp, tmp, 1)
    return result, phase._summarize(result, {}, T0)


@pytest.mark.parametrize(("failed", "total", "ratio"), [
    (3, 98, 0.01),  # the run: 306 % of a 1 % budget
    (3, 98, 0.10), (0, 50, 0.01), (1, 100, 0.01), (2, 199, 0.01), (7, 70, 0.10),
    (8, 70, 0.10), (1, 1, 0.5),
])
def test_a_passed_experiment_never_shows_a_budget_over_100_percent(
        failed: int, total: int, ratio: float, tmp_path: Path) -> None:
    result, summary = run_with(failed, total, ratio, tmp_path)
    budget = summary.error_budget
    assert budget is not None and budget.requests == total and budget.failed == failed
    check = next(c for c in summary.checks if c.metric == "error_budget_used")
    assert check.observed == budget.used  # the very number the verdict judged
    shown = cells.budget_short(budget)
    if summary.outcome == PASSED:
        assert not budget.over and not cells.is_bad(summary, "error budget used")
        assert float(shown.rstrip(" %")) <= 100, shown
    if budget.over:
        assert summary.outcome != PASSED and not check.passed
        assert cells.is_bad(summary, "error budget used")
        assert float(shown.rstrip(" %")) > 100, shown  # never rounded down to 100 %
    assert (failed > ratio * total) == budget.over
