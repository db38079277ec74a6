"""The progress display and the time-left estimate, with a fake clock (no sleeping)."""

from __future__ import annotations

import io

import pytest

from gameday.run.estimates import Estimate, guess_experiment_s
from gameday.run.progress import ProgressDisplay, format_clock, format_phase, format_status


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0:00"), (5.4, "0:05"), (65, "1:05"), (600, "10:00"), (3723, "1:02:03"), (-3, "0:00"),
    (None, "?"),
])
def test_format_clock(seconds: float | None, text: str) -> None:
    assert format_clock(seconds) == text


def test_status_line_names_phase_step_elapsed_and_time_left() -> None:
    line = format_status(102, 130, format_phase(2, 5, "payments-breaker"),
                         "method step 2/4: breaker-opens")
    assert line == ("[1:42 elapsed, ~2:10 left] experiment 2/5 payments-breaker: "
                    "method step 2/4: breaker-opens")
    assert format_status(3, None, "starting the stack") == "[0:03 elapsed] starting the stack"
    cut = format_status(3, 10, "x" * 200, width=40)
    assert len(cut) == 40 and cut.endswith("…")


def test_not_a_terminal_prints_plain_lines_on_phase_changes_and_every_interval() -> None:
    out, clock = io.StringIO(), Clock()
    display = ProgressDisplay(out, is_tty=False, interval_s=15, clock=clock,
                              remaining=lambda now: 60.0)
    display.set_phase("starting the stack")
    clock.now += 5
    display.refresh()  # within the interval: nothing new
    clock.now += 11
    display.refresh()
    display.set_phase(format_phase(1, 2, "payments-breaker"), lambda: "warming up")
    display.println("ok  stack up")
    lines = out.getvalue().splitlines()
    assert lines == [
        "[0:00 elapsed, ~1:00 left] starting the stack",
        "[0:16 elapsed, ~1:00 left] starting the stack",
        "[0:16 elapsed, ~1:00 left] experiment 1/2 payments-breaker: warming up",
        "ok  stack up",
    ]
    assert "\r" not in out.getvalue()


def test_an_open_ended_wait_shows_no_time_left_and_is_not_repeated() -> None:
    """--keep waits for Ctrl-C: no "~0:02 left" countdown, not a line every 15 s."""
    out, clock = io.StringIO(), Clock()
    display = ProgressDisplay(out, is_tty=False, interval_s=15, clock=clock,
                              remaining=lambda now: 2.0)
    display.set_phase("kept running (--keep)", lambda: "Ctrl-C stops everything",
                      open_ended=True)
    for _ in range(20):
        clock.now += 15
        display.refresh()
    assert out.getvalue().splitlines() == [
        "[0:00 elapsed] kept running (--keep): Ctrl-C stops everything"]
    tty = io.StringIO()
    live = ProgressDisplay(tty, is_tty=True, clock=clock, remaining=lambda now: 2.0)
    live.set_phase("kept running (--keep)", open_ended=True)
    clock.now += 300
    live.refresh()
    assert " left]" not in tty.getvalue() and "[5:00 elapsed] kept running" in tty.getvalue()
    display.set_phase("tearing down")  # the countdown is back for a phase with an end
    assert out.getvalue().splitlines()[-1].endswith("~0:02 left] tearing down")


def test_terminal_rewrites_one_status_line_and_keeps_permanent_lines() -> None:
    out, clock = io.StringIO(), Clock()
    display = ProgressDisplay(out, is_tty=True, clock=clock)
    display.set_phase("warming up")
    clock.now += 1
    display.refresh()
    display.println("ok  warm-up")
    text = out.getvalue()
    assert text.count("\r\x1b[2K[0:0") >= 2
    assert "\r\x1b[2Kok  warm-up\n" in text
    assert text.endswith("warming up")  # the status line is redrawn under the permanent one


def test_a_broken_detail_never_breaks_the_display() -> None:
    out = io.StringIO()
    display = ProgressDisplay(out, is_tty=False, clock=Clock())
    display.set_phase("experiment", lambda: 1 / 0)  # type: ignore[arg-type, return-value]
    assert out.getvalue().strip().endswith("] experiment")


def test_estimate_counts_down_and_learns_from_finished_experiments() -> None:
    plan = Estimate([("stack", 20), ("a", 30), ("b", 30), ("teardown", 10)])
    assert plan.remaining(0) == 90
    plan.start("stack", 0)
    plan.finish("stack", 10)  # a fast stack says nothing about the experiments
    assert plan.remaining(10) == 70
    plan.start("a", 10)
    assert plan.remaining(25) == 55
    assert plan.remaining(100) == 5 + 30 + 10  # a's overrun: a few seconds, not negative
    plan.finish("a", 70)  # a took twice as long: the rest is scaled up (clamped at 2)
    assert plan.factor() == 2.0
    assert plan.remaining(70) == 2 * 30 + 2 * 10


def test_unknown_experiment_guessed_from_its_file() -> None:
    data = {"method": [{"type": "fault", "duration": "20s"}, {"type": "pause", "duration": 2},
                       {"type": "fault", "duration": "5s"}]}
    assert guess_experiment_s("new-one", data) == 15 + 20 + 2 + 10
    assert guess_experiment_s("payments-breaker") > 0
