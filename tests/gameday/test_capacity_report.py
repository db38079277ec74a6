"""The capacity search's report (gameday.capacity_report): terminal table, SVG, files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from gameday import capacity_report


def step(index: int, users: int, rps: float, p99: float, passed: bool) -> dict[str, Any]:
    return {"index": index, "users": users, "started_s": 1.0 + 11 * index, "window_s": 7.0,
            "requests": int(rps * 7), "failures": 0, "failure_ratio": 0.0, "rps": rps,
            "p50_ms": p99 / 4, "p95_ms": p99 / 2, "p99_ms": p99, "passed": passed,
            "gates": []}


def search(*steps: dict[str, Any], unbroken: bool = False) -> dict[str, Any]:
    passed = [s for s in steps if s["passed"]]
    return {"shape": "CapacityShape", "plan": {"step_s": 10.0},
            "gates": [{"gate": "p99 Aggregated", "limit": 500.0}],
            "steps": list(steps), "knee": max(passed, key=lambda s: s["rps"]) if passed else None,
            "unbroken": unbroken, "stopped_because": "step 3 (30 users) broke a gate"}


FOUND = search(step(0, 10, 20.0, 100, True), step(1, 20, 40.5, 300, True),
               step(2, 30, 38.0, 900, False))


def test_table_marks_the_knee() -> None:
    lines = capacity_report.table(FOUND).splitlines()
    assert lines[0].split()[:3] == ["step", "users", "req/s"]
    assert lines[2].endswith("met  <- knee") and "40.5" in lines[2]
    assert lines[3].endswith("BROKEN")
    assert lines[4] == "capacity: 40.5 req/s at 20 users (p95 150 ms, p99 300 ms, failures 0.00%)"
    assert lines[5] == "stopped: step 3 (30 users) broke a gate"


def test_headline_says_when_the_knee_is_only_a_lower_bound_or_missing() -> None:
    unbroken = search(step(0, 10, 20.0, 100, True), unbroken=True)
    assert capacity_report.headline(unbroken).startswith("capacity: at least 20.0 req/s")
    assert capacity_report.headline(search(step(0, 10, 2.0, 900, False))) == \
        "capacity: no step met the gates"


def test_svg_plots_each_step_and_shades_the_knee_and_the_break(tmp_path: Path) -> None:
    paths = capacity_report.write(tmp_path, FOUND)
    assert json.loads(paths["json"].read_text()) == FOUND
    text = paths["svg"].read_text()
    root = ET.fromstring(text)  # well-formed
    assert root.tag.endswith("svg")
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("knee: 20 users") for t in titles)
    assert any(t.startswith("broken: 30 users") for t in titles)
    assert text.count("<polyline") >= 5  # req/s, p95, p99, the p99 limit, failures, users
    assert "limit p99 Aggregated" in text and "capacity: 40.5 req/s at 20 users" in text


def test_capacity_of_reads_only_a_capacity_summary() -> None:
    assert capacity_report.capacity_of({"shape": FOUND}) is FOUND
    assert capacity_report.capacity_of({"shape": {"shape": "SteadyShape"}}) is None
    assert capacity_report.capacity_of({"shape": None}) is None
