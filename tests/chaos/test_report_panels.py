"""chaos.report.panels: the axis, fault windows, signals and load panel both reports draw."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.load.records import RequestRecord, merge_last_sliver, per_second
from chaos.report.panels import fault_windows, journal_axis, load_panel, signal
from chaos.report.svg import Axis, state_panel
from chaos.runner.load_control import LoadControl
from chaos.spec.sections import LoadConfig
from chaos.verdicts import Observations

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


def test_the_load_is_drawn_while_it_ran_not_as_zero_while_orders_settle() -> None:
    """Issue 14: storefront-replica-killed's "ok" line fell to 0 at 5.5 s and stayed there
    while two replicas served: the probe load had stopped and the run was settling orders."""
    records = [RequestRecord(T0 + i * 0.1, 0.05, "browse", 200) for i in range(46)]  # 4.6 s
    control = LoadControl(LoadConfig(driver="builtin"), None, 0, Path("."), None,  # type: ignore[arg-type]
                          threading.Event())
    control.driver = SimpleNamespace(summary=lambda: {"driver": "builtin"},  # type: ignore[assignment]
                                     started_at=T0, stop_requested_at=T0 + 4.6,
                                     stopped_at=T0 + 5.4)  # its last requests ending
    obs = Observations(run_start=T0 - 0.2, run_end=T0 + 8.1, records=records)
    journal = {"start_ts": T0 - 0.2, "end_ts": T0 + 8.1, "faults": [],
               "load": control.record(obs)}
    buckets = journal["load"]["per_second"]
    assert buckets[-1]["t"] < T0 + 4.6 and buckets[-1]["width"] == pytest.approx(0.6)
    axis = journal_axis(journal)
    svg = load_panel(journal, axis, [], "load")
    assert svg is not None
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    ok = [line for line in root.iter(ns + "polyline")][2]  # client, errors, ok, rejected
    points = [tuple(map(float, p.split(","))) for p in ok.get("points", "").split()]
    assert max(x for x, _ in points) <= axis.x(T0 + 4.6)
    zero = float(root.get("height", 0)) - 20  # the panel's 0/s line (y grows downwards)
    assert all(y < zero - 1 for _, y in points), "ok never drops to 0 while the load ran"
    assert len({round(y) for _, y in points}) == 1  # 10/s all along, the last 0.6 s included
    assert "load stopped: settling orders" in svg


def _boxes(svg: str, pred: Any) -> list[tuple[float, float, float, float]]:
    ns = "{http://www.w3.org/2000/svg}"
    out = []
    for rect in ET.fromstring(svg).iter(ns + "rect"):
        if pred(rect):
            x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
            out.append((x, y, x + float(rect.get("width", 0)), y + float(rect.get("height", 0))))
    return out


def test_the_state_legend_never_overlaps_a_lane() -> None:
    lanes = {"payments": [(T0, "closed"), (T0 + 5, "open"), (T0 + 20, "half_open"),
                          (T0 + 22, "closed")],
             "reviews": [(T0, "closed"), (T0 + 30, "open")]}
    svg = state_panel("circuit breakers", lanes, Axis(T0, T0 + 40), [])
    legend = _boxes(svg, lambda r: r.get("width") == "10" and r.get("height") == "10")
    bars = _boxes(svg, lambda r: r.get("height") == "18")
    assert len(legend) == 3 and bars
    for lx0, ly0, lx1, ly1 in legend:
        label_end = lx1 + 6 * 9 + 4  # its text, "half_open" at most
        for bx0, by0, bx1, by1 in bars:
            assert ly1 <= by0 or ly0 >= by1 or label_end <= bx0 or lx0 >= bx1, \
                f"legend {(lx0, ly0, lx1, ly1)} overlaps the bar {(bx0, by0, bx1, by1)}"


def test_a_last_sliver_of_a_second_joins_the_bucket_before_it() -> None:
    """0.3 s in which no request happened to start is no drop of the rate to 0."""
    records = [RequestRecord(T0 + t, 0.1, "x", 200) for t in (0.2, 1.1, 1.5, 2.0)]
    buckets = per_second(records, T0, T0 + 2.3)
    assert [(b["width"], b["ok"]) for b in buckets] == [(1.0, 1), (1.3, 3)]
    assert merge_last_sliver([]) == [] and len(per_second(records, T0, T0 + 2.6)) == 3
