"""The run's events: listeners are called in order with the payload, and a listener that
raises is logged, never raised — the other listeners and the run go on."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from chaos.runner.events import EventHook, PhaseChanged, RunEvents
from tests.chaos.conftest import FakeStack


def test_listeners_get_the_payload_in_order() -> None:
    hook: EventHook[PhaseChanged] = EventHook("phase_changed")
    seen: list[tuple[str, str]] = []
    first = hook.add_listener(lambda e: seen.append(("first", e.phase)))
    hook.add_listener(lambda e: seen.append(("second", e.phase)))
    hook.fire(PhaseChanged("method", 1, 3, "kill"))
    hook.remove_listener(first)
    hook.fire(PhaseChanged("rollback"))
    assert seen == [("first", "method"), ("second", "method"), ("second", "rollback")]


def test_a_failing_listener_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    events = RunEvents()
    seen: list[str] = []

    def broken(event: PhaseChanged) -> None:
        raise RuntimeError("dashboard down")

    events.phase_changed.add_listener(broken)
    events.phase_changed.add_listener(lambda e: seen.append(e.phase))
    with caplog.at_level(logging.ERROR, logger="chaos.runner.events"):
        events.phase_changed.fire(PhaseChanged("warm-up"))  # does not raise
    assert seen == ["warm-up"]
    [record] = caplog.records
    assert "phase_changed" in record.getMessage() and "broken" in record.getMessage()
    assert record.exc_info is not None and "dashboard down" in str(record.exc_info[1])


def test_a_run_has_the_hooks_features_attach_to() -> None:
    events = RunEvents()
    for name in ("phase_changed", "fault_started", "fault_ended", "verdict", "run_finished"):
        assert isinstance(getattr(events, name), EventHook)
        assert getattr(events, name).name == name


def test_a_run_tells_its_listeners_and_survives_broken_ones(
        fake_stack: FakeStack, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from chaos.context import ChaosContext
    from chaos.runner.run import ExperimentRunner, RunOptions
    from chaos.spec.loader import load_text
    from tests.chaos.test_runner import EXPERIMENT, _flip_breaker_while_faulted

    runner = ExperimentRunner(load_text(EXPERIMENT, "fake.yaml"),
                              ChaosContext.load(fake_stack.state_dir),
                              RunOptions(seed=3, out_dir=tmp_path / "out", handle_signals=False))
    heard: dict[str, list[object]] = {}

    def broken(event: object) -> None:
        raise RuntimeError("listener bug")

    for name in ("phase_changed", "fault_started", "fault_ended", "verdict", "run_finished"):
        hook = getattr(runner.events, name)
        hook.add_listener(broken)
        hook.add_listener(lambda e, n=name: heard.setdefault(n, []).append(e))
    flipper = _flip_breaker_while_faulted(fake_stack)
    with caplog.at_level(logging.ERROR, logger="chaos.runner.events"):
        result = runner.run()
    flipper.join(timeout=10)
    assert result.outcome == "passed", [v.to_dict() for v in result.verdicts if not v.passed]
    phases = [e.phase for e in heard["phase_changed"]]  # type: ignore[attr-defined]
    assert phases == ["steady-state-before", "method", "method", "method", "method",
                      "waiting-for-faults", "steady-state-after", "rollback", "report"]
    assert [e.window.step for e in heard["fault_started"]] == ["payments-errors"]  # type: ignore[attr-defined]
    assert [e.window.step for e in heard["fault_ended"]] == ["payments-errors"]  # type: ignore[attr-defined]
    assert heard["verdict"] == result.verdicts and heard["run_finished"] == [result]
    # the journal's own fault records are a listener too, and still complete
    journal = json.loads(result.files["journal"].read_text())
    assert [sorted(f) for f in journal["faults"]] == [["entry", "plan"], ["ended", "undo"]]
    broken_calls = [r for r in caplog.records if "listener bug" in str(r.exc_info[1])]
    assert len(broken_calls) == sum(len(v) for v in heard.values())
