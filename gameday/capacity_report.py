"""The capacity search's report: a table for the terminal, an SVG plot and a JSON file, written
next to Locust's reports by `gameday load --find-capacity`.

Reads the search as the JSON summary records it (`summary["shape"]`, from
loadtests.capacity.CapacitySearch.describe) and draws with chaos.report.svg, the project's
own SVG panels (matplotlib is not installed): requests per second, p95/p99 against the latency
gates, the failure ratio and the users, step by step over the run's time, with the knee's
window shaded grey and the broken step's red.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from chaos.report.svg import WIDTH, Axis, line_panel

KNEE_ROLE = "protection"  # chaos.report.svg shades this role grey, any other red
INK, MUTED, FAIL, PASS = "#222", "#666", "#d62728", "#2ca02c"


def capacity_of(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The search's record in a JSON summary, or None when the run was not a capacity run."""
    shape = summary.get("shape") or {}
    return shape if shape.get("shape") == "CapacityShape" else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def table(capacity: dict[str, Any]) -> str:
    """One line per step, the knee marked, and the search's conclusion."""
    knee = capacity.get("knee") or {}
    lines = [f"{'step':>4} {'users':>6} {'req/s':>8} {'p95 ms':>7} {'p99 ms':>7} "
             f"{'failed':>7}  gates"]
    for step in capacity.get("steps", []):
        mark = "  <- knee" if knee and step["index"] == knee.get("index") else ""
        lines.append(f"{step['index'] + 1:>4} {step['users']:>6} {step['rps']:>8.1f} "
                     f"{_ms(step['p95_ms']):>7} {_ms(step['p99_ms']):>7} "
                     f"{100 * step['failure_ratio']:>6.2f}%  "
                     f"{'met' if step['passed'] else 'BROKEN'}{mark}")
    lines.append(headline(capacity))
    if capacity.get("stopped_because"):
        lines.append(f"stopped: {capacity['stopped_because']}")
    return "\n".join(lines)


def headline(capacity: dict[str, Any]) -> str:
    knee = capacity.get("knee")
    if not knee:
        return "capacity: no step met the gates"
    bound = "at least " if capacity.get("unbroken") else ""
    return (f"capacity: {bound}{knee['rps']:.1f} req/s at {knee['users']} users "
            f"(p95 {_ms(knee['p95_ms'])} ms, p99 {_ms(knee['p99_ms'])} ms, failures "
            f"{100 * knee['failure_ratio']:.2f}%)")


def _window(step: dict[str, Any], step_s: float) -> tuple[float, float]:
    end = step["started_s"] + step_s
    return end - step["window_s"], end


def svg(capacity: dict[str, Any]) -> str:
    """The plot: four panels over the run's time, one value per step's measured window."""
    steps = capacity.get("steps", [])
    step_s = float(capacity["plan"]["step_s"])
    spans = [_window(s, step_s) for s in steps]
    axis = Axis(0.0, max((end for _, end in spans), default=1.0))
    shaded = []
    knee = capacity.get("knee")
    for step, (start, end) in zip(steps, spans, strict=True):
        if knee and step["index"] == knee["index"]:
            shaded.append({"name": f"knee: {knee['users']} users", "start": start, "end": end,
                           "role": KNEE_ROLE})
        elif not step["passed"]:
            shaded.append({"name": f"broken: {step['users']} users", "start": start,
                           "end": end})

    def series(key: str, scale: float = 1.0) -> list[tuple[float, float | None]]:
        points: list[tuple[float, float | None]] = []
        for step, (start, end) in zip(steps, spans, strict=True):
            value = step.get(key)
            value = None if value is None else value * scale
            points += [(start, value), (end, value)]
        return points

    limits: dict[str, list[tuple[float, float | None]]] = {}
    for gate in capacity.get("gates", []):
        if gate["gate"].startswith(("p95", "p99")):
            limits[f"limit {gate['gate']}"] = [(axis.t0, gate["limit"]),
                                               (axis.t1, gate["limit"])]
    panels = [
        line_panel("requests per second, per step (the knee shaded grey, the broken step red)",
                   {"req/s": series("rps")}, axis, shaded, "/s"),
        line_panel("latency per step (ms) and the latency gates",
                   {"p95": series("p95_ms"), "p99": series("p99_ms"), **limits}, axis, shaded,
                   " ms"),
        line_panel("failed requests per step (%)",
                   {"failures %": series("failure_ratio", 100.0)}, axis, shaded, "%",
                   height=120),
        line_panel("users per step", {"users": series("users")}, axis, shaded, height=120),
    ]
    color = PASS if knee else FAIL
    head = [f'<text x="10" y="22" font-size="16" font-weight="bold" fill="{color}">'
            f'{escape(headline(capacity))}</text>',
            f'<text x="10" y="40" font-size="11" fill="{MUTED}">'
            f'{escape(str(capacity.get("stopped_because") or ""))}</text>']
    y, body = 50, []
    for panel, height in zip(panels, (170, 170, 120, 120), strict=True):
        body.append(f'<g transform="translate(0,{y})">{panel}</g>')
        y += height + 6
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y}" '
            f'viewBox="0 0 {WIDTH} {y}" font-family="system-ui,sans-serif" role="img" '
            f'aria-label="capacity search"><rect width="100%" height="100%" fill="white"/>'
            + "".join(head) + "".join(body) + "</svg>")


def write(out: Path, capacity: dict[str, Any]) -> dict[str, Path]:
    """capacity.json (the search, for scripts) and capacity.svg (the plot) in `out`."""
    paths = {"json": out / "capacity.json", "svg": out / "capacity.svg"}
    paths["json"].write_text(json.dumps(capacity, indent=2) + "\n")
    paths["svg"].write_text(svg(capacity))
    return paths
