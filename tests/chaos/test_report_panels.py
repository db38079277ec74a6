"""chaos.report.panels: the axis, fault windows, signals and load panel both reports draw."""

from __future__ import annotations

from typing import Any

from chaos.report.panels import fault_windows, journal_axis, load_panel, signal

T0 = 1_700_000_000.0


def _journal(**extra: Any) -> dict[str, Any]:
    return {"start_ts": T0, "end_ts": T0 + 40, "faults": [
        {"entry": {"fault_id": "f1", "name": "kill", "started_at": T0 + 5}},
        {"ended": {"fault_id": "f1", "name": "kill", "start": T0 + 5, "end": T0 + 20}},
        {"entry": {"fault_id": "f2", "name": "throttle", "started_at": T0 + 30}}],
        "timeline": {"series": {"breaker:payments": [(T0, "closed")],
                                "breakerish:x": [(T0, 1)],
                                "alarm:jam": [(T0, "OK")]}}, **extra}


def test_axis_spans_the_run_and_one_second_when_unfinished() -> None:
    axis = journal_axis(_journal())
    assert (axis.t0, axis.t1) == (T0, T0 + 40)
    axis = journal_axis({"start_ts": T0})
    assert (axis.t0, axis.t1) == (T0, T0 + 1)


def test_windows_are_the_ended_faults_and_open_ones_on_request() -> None:
    assert [w["fault_id"] for w in fault_windows(_journal())] == ["f1"]
    windows = fault_windows(_journal(), include_open=True)
    assert [(w["fault_id"], w["end"]) for w in windows] == [("f1", T0 + 20), ("f2", None)]
    assert windows[1]["start"] == T0 + 30


def test_signal_picks_one_kind_by_exact_prefix() -> None:
    assert signal(_journal(), "breaker") == {"payments": [(T0, "closed")]}
    assert signal(_journal(), "replicas") == {}


def test_load_panel_draws_four_outcomes_or_nothing() -> None:
    journal = _journal(load={"per_second": [{"t": T0 + i, "ok": 3, "rejected": 1, "client": 0,
                                             "errors": 2} for i in range(5)]})
    svg = load_panel(journal, journal_axis(journal), fault_windows(journal), "load <x>")
    assert svg is not None and svg.startswith("<svg") and "load &lt;x&gt;" in svg
    assert svg.count("<polyline") == 4
    assert load_panel(_journal(), journal_axis(_journal()), [], "load") is None
