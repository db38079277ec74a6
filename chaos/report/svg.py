"""Hand-written inline SVG time-series panels (matplotlib is not installed here, and a few
rectangles and polylines need no plotting library): line panels, state lanes, and the fault
windows shaded across every panel. Times are epoch seconds; the x axis shows seconds since the
run started."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH = 960
LEFT = 150
RIGHT = 20
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]
STATE_COLORS = {
    "closed": "#2ca02c", "open": "#d62728", "half_open": "#ff7f0e",
    "OK": "#2ca02c", "ALARM": "#d62728", "INSUFFICIENT_DATA": "#bbbbbb",
    None: "#eeeeee",
}


class Axis:
    def __init__(self, t0: float, t1: float) -> None:
        self.t0 = t0
        self.t1 = max(t1, t0 + 1.0)

    def x(self, t: float) -> float:
        frac = (t - self.t0) / (self.t1 - self.t0)
        return LEFT + max(0.0, min(1.0, frac)) * (WIDTH - LEFT - RIGHT)


def _frame(title: str, height: int, body: list[str], axis: Axis,
           windows: list[dict[str, Any]]) -> str:
    shade = []
    for w in windows:
        x0, x1 = axis.x(w["start"]), axis.x(w.get("end") or axis.t1)
        color = "#7f7f7f" if w.get("role") == "protection" else "#d62728"
        shade.append(f'<rect x="{x0:.1f}" y="18" width="{max(1.0, x1 - x0):.1f}" '
                     f'height="{height - 36}" fill="{color}" fill-opacity="0.10">'
                     f'<title>{escape(w["name"])} {escape(", ".join(w.get("targets", [])))}'
                     f'</title></rect>')
    ticks = []
    span = axis.t1 - axis.t0
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 3600) if span / s <= 12)
    t = 0.0
    while t <= span:
        x = axis.x(axis.t0 + t)
        ticks.append(f'<line x1="{x:.1f}" y1="{height - 18}" x2="{x:.1f}" y2="{height - 14}" '
                     f'stroke="#666"/><text x="{x:.1f}" y="{height - 3}" font-size="10" '
                     f'text-anchor="middle">{int(t)}s</text>')
        t += step
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'role="img" aria-label="{escape(title)}">'
            f'<text x="4" y="13" font-size="12" font-weight="bold">{escape(title)}</text>'
            + "".join(shade) + "".join(body) + "".join(ticks) + "</svg>")


def line_panel(title: str, series: dict[str, list[tuple[float, float | None]]], axis: Axis,
               windows: list[dict[str, Any]], unit: str = "", height: int = 170,
               markers: list[tuple[float, str]] | None = None) -> str:
    """Lines per series; `markers` are dashed vertical lines, labelled (e.g. where the load
    stopped)."""
    values = [v for pts in series.values() for _, v in pts if v is not None]
    top = max(values, default=1.0) or 1.0
    y0, y1 = height - 20, 20

    def y(v: float) -> float:
        return y0 - (v / top) * (y0 - y1)

    body = [f'<line x1="{LEFT}" y1="{y0}" x2="{WIDTH - RIGHT}" y2="{y0}" stroke="#999"/>',
            f'<text x="{LEFT - 4}" y="{y1 + 4}" font-size="10" text-anchor="end">'
            f'{top:.3g}{escape(unit)}</text>',
            f'<text x="{LEFT - 4}" y="{y0}" font-size="10" text-anchor="end">0</text>']
    for i, (name, pts) in enumerate(sorted(series.items())):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{axis.x(t):.1f},{y(v):.1f}" for t, v in pts if v is not None)
        if coords:
            body.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                        f'points="{coords}"/>')
        body.append(f'<text x="4" y="{34 + 14 * i}" font-size="11" fill="{color}">'
                    f'{escape(name)}</text>')
    for t, label in markers or []:
        x = axis.x(t)
        body.append(f'<line class="marker" x1="{x:.1f}" y1="{y1}" x2="{x:.1f}" y2="{y0}" '
                    f'stroke="#555" stroke-dasharray="4 3"/><text x="{x - 3:.1f}" '
                    f'y="{y1 + 10}" font-size="10" fill="#555" text-anchor="end">'
                    f'{escape(label)}</text>')
    return _frame(title, height, body, axis, windows)


def state_panel(title: str, lanes: dict[str, list[tuple[float, Any]]], axis: Axis,
                windows: list[dict[str, Any]]) -> str:
    lane_h = 22
    height = 40 + lane_h * max(1, len(lanes))
    body = []
    for i, (name, pts) in enumerate(sorted(lanes.items())):
        top = 20 + i * lane_h
        body.append(f'<text x="4" y="{top + 15}" font-size="11">{escape(name)}</text>')
        runs = [(t, state) for j, (t, state) in enumerate(pts)
                if j == 0 or pts[j - 1][1] != state]  # one rectangle per unchanged stretch
        for j, (t, state) in enumerate(runs):
            t_next = runs[j + 1][0] if j + 1 < len(runs) else axis.t1
            x0, x1 = axis.x(t), axis.x(t_next)
            color = STATE_COLORS.get(state, "#7f7f7f")
            body.append(f'<rect x="{x0:.1f}" y="{top}" width="{max(0.5, x1 - x0):.1f}" '
                        f'height="{lane_h - 4}" fill="{color}"><title>{escape(str(state))}'
                        f'</title></rect>')
    legend = [s for s in STATE_COLORS if s is not None and any(
        v == s for pts in lanes.values() for _, v in pts)]
    # the legend sits on the title row (above the first lane at y=20), right-aligned, one
    # entry after the other
    x = WIDTH - RIGHT
    for state in reversed(legend):
        x -= 18 + 6 * len(state)
        body.append(f'<g class="legend"><rect x="{x}" y="4" width="10" height="10" '
                    f'fill="{STATE_COLORS[state]}"/><text x="{x + 13}" y="13" '
                    f'font-size="10">{escape(state)}</text></g>')
    return _frame(title, height, body, axis, windows)
