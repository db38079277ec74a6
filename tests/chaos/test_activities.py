"""The activity wrapper: every activity lands in the journal with its status and timing —
on success, on failure (raised again, as the step's error when given), when the run is
aborted under it, and when it is interrupted; pauses end early on abort."""

from __future__ import annotations

import threading

import pytest

from chaos.exceptions import InjectionFailed
from chaos.report.journal import Journal
from chaos.runner.activities import FAILED, Activities, ActivityOutcome


def _activities() -> tuple[Journal, Activities, threading.Event]:
    journal = Journal("run-test", {"title": "t"}, "experiment", 1)
    abort = threading.Event()
    return journal, Activities(journal, abort), abort


def _timed(record: dict[str, object]) -> None:
    assert isinstance(record["start_ts"], float) and isinstance(record["end_ts"], float)
    assert record["start_ts"] <= record["end_ts"]
    assert record["duration"] == round(record["end_ts"] - record["start_ts"], 3)
    assert record["start"] and record["end"]


def test_success_records_output_and_timing() -> None:
    journal, activities, _ = _activities()
    spec = {"type": "action", "name": "go", "action": "start-load"}
    record = activities.run("run", spec, lambda: {"users": 3})
    assert journal.data["run"] == [record]
    assert record["activity"] == spec and record["status"] == "succeeded"
    assert record["output"] == {"users": 3} and "aborted" not in record
    _timed(record)


def test_an_outcome_can_fail_without_raising_and_add_fields() -> None:
    journal, activities, _ = _activities()
    record = activities.run("before", {"name": "p"}, lambda: ActivityOutcome(
        FAILED, 503, {"tolerance_met": False}))
    assert record["status"] == "failed" and record["output"] == 503
    assert record["tolerance_met"] is False
    assert journal.data["steady_states"]["before"]["probes"] == [record]


def test_failure_is_recorded_then_raised_as_the_steps_error() -> None:
    journal, activities, _ = _activities()

    def boom() -> None:
        raise RuntimeError("no such function")

    with pytest.raises(InjectionFailed, match="^fault step f: no such function$") as caught:
        activities.run("run", {"name": "f"}, boom,
                       failure=lambda message: InjectionFailed(f"fault step f: {message}"))
    assert isinstance(caught.value.__cause__, RuntimeError)
    [record] = journal.data["run"]
    assert record["status"] == "failed" and record["output"] is None
    assert record["exception"] == "RuntimeError: no such function"
    _timed(record)


def test_failure_without_a_wrapper_raises_the_error_itself() -> None:
    journal, activities, _ = _activities()
    with pytest.raises(KeyError):
        activities.run("rollbacks", {"name": "r"}, lambda: {}["missing"])
    assert journal.data["rollbacks"][0]["status"] == "failed"


def test_raise_after_writes_the_record_first() -> None:
    journal, activities, _ = _activities()
    with pytest.raises(InjectionFailed, match="too few"):
        activities.run("run", {"name": "warm"}, lambda: ActivityOutcome(
            FAILED, {"orders": 1}, raise_after=InjectionFailed("too few")))
    assert journal.data["run"][0]["output"] == {"orders": 1}


def test_an_abort_during_the_activity_is_recorded() -> None:
    journal, activities, abort = _activities()

    def aborted_meanwhile() -> str:
        abort.set()
        return "partial"

    record = activities.run("run", {"name": "a"}, aborted_meanwhile)
    assert record["status"] == "succeeded" and record["aborted"] is True
    # an abort from before (rollback activities after an abort) is not this activity's
    assert "aborted" not in activities.run("rollbacks", {"name": "b"}, lambda: None)


def test_an_interrupt_is_recorded_and_raised() -> None:
    journal, activities, _ = _activities()

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        activities.run("run", {"name": "i"}, interrupted)
    assert journal.data["run"][0]["status"] == "interrupted"


@pytest.mark.parametrize("section", ["run", "rollbacks"])
def test_pauses_end_early_on_abort_in_the_method_and_the_rollbacks(section: str) -> None:
    journal, activities, abort = _activities()
    timer = threading.Timer(0.2, abort.set)
    timer.start()
    try:
        record = activities.pause(section, {"type": "pause", "duration": "60s"})
    finally:
        timer.cancel()
    assert record["status"] == "succeeded" and record["aborted"] is True
    assert record["duration"] < 60
    assert journal.data[section] == [record]


def test_a_pause_waits_its_duration_without_abort() -> None:
    _, activities, _ = _activities()
    record = activities.pause("rollbacks", {"type": "pause", "duration": "0.2s"})
    assert record["duration"] >= 0.1 and "aborted" not in record
