"""The game day's time budgets (issue 7), read from a finished game day's results:

- command to the first request served: under 20 s;
- the whole default game day under 6 minutes, `--quick` under 2;
- a stream jam detected (alarm) under 15 s after the fault starts; a silent consumer too (the
  heartbeat alarm); a stuck correlation ID named under 75 s (per-minute Contributor Insights
  data);
- the payments breaker open under 2 s after the payments replicas die;
- the breaker closed within its reset timeout + 2 s after the replicas return.

They are reported (summary.json, index.html, bench/gameday_budgets.py), never asserted: the
experiments' own verdicts decide whether the game day passes. The times are the experiments'
numbers (chaos.verdicts computes them, chaos.numbers defines them), read, never recomputed: the
breaker's "closed after its replicas return" is the summary's recovery minus the replicas'
return, and says so.
"""

from __future__ import annotations

from typing import Any

from chaos.numbers import format_value, title
from gameday.run.headline import keyed
from gameday.run.results import Budget, ExperimentSummary

FIRST_REQUEST_GOAL_S = 20.0
FULL_GOAL_S = 360.0
QUICK_GOAL_S = 120.0
JAM_DETECTION_GOAL_S = 15.0
STUCK_ID_GOAL_S = 75.0
# detection budgets whose alarm is not a jam alarm: alarm name suffix -> (what, goal)
DETECTION_KINDS = {
    "-consumer-silent": ("silent consumer detected", JAM_DETECTION_GOAL_S),
    "-stuck-correlation-id": ("stuck correlation ID named", STUCK_ID_GOAL_S),
}
BREAKER_OPEN_GOAL_S = 2.0
BREAKER_CLOSE_MARGIN_S = 2.0
DEFAULT_RESET_TIMEOUT_S = 5.0


def _number(exp: ExperimentSummary, prefix: str) -> list[tuple[str, float | None]]:
    """[(what, seconds or None)] for the experiment's numbers named `prefix[what]`."""
    return [(what, float(value) if isinstance(value, int | float) else None)
            for what, value in keyed(exp.numbers, prefix)]


def compute(experiments: list[ExperimentSummary], *, first_request_s: float | None,
            total_s: float | None, mode: str, breakers: dict[str, Any] | None = None,
            stack_ready_s: float | None = None) -> list[Budget]:
    """Every budget that this game day measured (mode: "full", "quick" or "custom")."""
    breakers = breakers or {}
    goal = {"full": FULL_GOAL_S, "quick": QUICK_GOAL_S}.get(mode)
    budgets = [
        Budget("first_request_s", "command to the first request served", FIRST_REQUEST_GOAL_S,
               first_request_s, "start of the command to the storefront's first 200"),
        Budget("stack_ready_s", "command to the whole stack ready", None, stack_ready_s,
               "streams, alarms, transaction manager too: experiments can start"),
        Budget("total_s", f"the whole game day ({mode})", goal, total_s,
               "gameday run: start to end, teardown included"),
    ]
    for exp in experiments:
        jam = [(alarm, t) for alarm, t in _number(exp, "time_to_alarm_s")]
        if jam:
            seen = [t for _, t in jam if t is not None]
            names = ", ".join(a.removeprefix("shop-") for a, _ in jam)
            what, goal = next((kind for suffix, kind in DETECTION_KINDS.items()
                               if all(a.endswith(suffix) for a, _ in jam)),
                              ("stream jam detected", JAM_DETECTION_GOAL_S))
            budgets.append(Budget(
                f"jam_detection_s[{exp.name}]", f"{what} ({exp.name})",
                goal, min(seen) if seen else None,
                f"first ALARM of {names} after the fault started"))
        for dep, t in _number(exp, "time_to_breaker_open_s"):
            budgets.append(Budget(
                f"breaker_open_s[{dep}]", f"{dep} breaker open after its replicas die",
                BREAKER_OPEN_GOAL_S, t, f"{exp.name}: sampled every 0.5 s"))
        for dep, t in _number(exp, "breaker_closed_after_return_s"):
            reset = (breakers.get(dep) or {}).get("reset_timeout_s") or DEFAULT_RESET_TIMEOUT_S
            key = f"breaker_closed_after_return_s[{dep}]"
            recovery = f"time_to_breaker_closed_s[{dep}]"
            back = f"replicas_back_s[{dep}]"
            budgets.append(Budget(
                key, title(key), float(reset) + BREAKER_CLOSE_MARGIN_S, t,
                f"{exp.name}: goal = reset timeout {float(reset):g} s + "
                f"{BREAKER_CLOSE_MARGIN_S:g} s; the summary's recovery "
                f"{format_value(recovery, exp.numbers.get(recovery))} after the fault = "
                f"replicas back {format_value(back, exp.numbers.get(back))} + this"))
    return budgets
