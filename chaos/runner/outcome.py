"""How a run ended, and what it proves.

Outcome: passed | failed (a verdict or the hypothesis after failed) | aborted (a stop
condition) | error (an injection/action failed, the steady state before was not met: says
nothing about the protection) | interrupted. A control run is conclusive only when it failed
or aborted with every injection in place, on the checks it names in `expect-failing`.

Missing monitoring is not "no conclusion": when an alarm the experiment's checks read is
deleted, has its actions disabled, or reads a deleted or disabled Contributor Insights rule
(chaos/probes/monitoring.py), checked before the steady state, every check that has no alarm
left fails (`monitoring_verdicts`, naming the check and the alarm) and the run is failed,
without injecting anything: the detection it would test cannot happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.probes.monitoring import Check
from chaos.verdicts import Observations, Verdict

PASSED, FAILED, ABORTED, ERROR, INTERRUPTED = "passed", "failed", "aborted", "error", \
    "interrupted"


def decide(interrupted: bool, error_reason: str, breached: bool,
           verdicts: list[Verdict]) -> str:
    """The run's outcome, the first that applies: interrupted, error, aborted, then passed
    when every verdict passed, else failed."""
    if interrupted:
        return INTERRUPTED
    if error_reason:
        return ERROR
    if breached:
        return ABORTED
    if all(v.passed for v in verdicts):
        return PASSED
    return FAILED


def monitoring_verdicts(checks: list[Check], gaps: dict[str, str]) -> list[Verdict]:
    """One failed verdict per check whose every alarm is a gap (`gaps`: alarm -> why)."""
    out = []
    for check in checks:
        if not all(alarm in gaps for alarm in check.alarms):
            continue  # another of its alarms still detects
        why = "; ".join(f"alarm {alarm} {gaps[alarm]}" for alarm in check.alarms)
        expected = " or ".join(check.alarms) + " in place (exists, actions enabled)"
        out.append(Verdict(f"monitoring for {check.label}", "monitoring", why, expected, False,
                           "the monitoring this check relies on is missing: the detection "
                           "it tests cannot happen", params={"alarm": list(check.alarms)}))
    return out


def journal_status(outcome: str) -> str:
    """The journal's `status` (Chaos Toolkit's words) for an outcome."""
    if outcome in (INTERRUPTED, ABORTED):
        return outcome
    return "completed" if outcome in (PASSED, FAILED) else "failed"


@dataclass
class RunResult:
    run_id: str
    title: str
    variant: str
    outcome: str
    verdicts: list[Verdict]
    numbers: dict[str, Any]
    out_dir: Path
    reason: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    expect_failing: list[str] = field(default_factory=list)
    started_at: float = 0.0  # the journal's start and end
    ended_at: float = 0.0
    observations: Observations | None = None  # what the numbers were made from

    def failed_as_expected(self) -> list[str]:
        """The control's `expect-failing` checks (verdict metrics or step names) that did not
        fail — empty when every one of them failed."""
        def failed(item: str) -> bool:
            return any(not v.passed and (v.metric == item or v.title == item
                                         or v.title.endswith(f": {item}"))
                       for v in self.verdicts)
        return [item for item in self.expect_failing if not failed(item)]

    @property
    def conclusive_control(self) -> bool:
        """A control proves its protection only by failing with every fault in place, on the
        checks the protection is there for (`expect-failing`), not on something else."""
        return self.outcome in (FAILED, ABORTED) and not self.failed_as_expected()

    @property
    def exit_code(self) -> int:
        if self.variant == "control":
            return 0 if self.conclusive_control else 1
        return 0 if self.outcome == PASSED else 1
