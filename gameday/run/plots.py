"""SVG for the game-day report, drawn with chaos.report.svg (the same hand-written panels as each
experiment's report.html):

- `load_timeline`: the Locust users' requests and failures per second over the whole game day,
  each experiment's fault window shaded and named;
- `experiment_panels`: an experiment's load by outcome and its main signal (breaker states,
  alarms, IteratorAge or live replicas) with its faults shaded;
- `summary_picture`: one self-contained SVG with the summary table, the load timeline and one
  experiment's panels — `summary.svg` in every report, and the README's picture.
"""

from __future__ import annotations

from html import escape
from typing import Any

from chaos.report.panels import fault_windows, journal_axis, load_panel, signal
from chaos.report.svg import WIDTH, Axis, line_panel, state_panel
from gameday.run import cells
from gameday.run.results import GameDayResult

FAIL, PASS, INK, MUTED = "#d62728", "#2ca02c", "#222", "#666"


def _add(svg: str, extra: list[str]) -> str:
    """Append elements inside an SVG document."""
    return svg[: svg.rfind("</svg>")] + "".join(extra) + "</svg>"


def _height(svg: str) -> int:
    head = svg[: svg.find(">")]
    marker = 'height="'
    start = head.find(marker) + len(marker)
    return int(float(head[start: head.find('"', start)]))


def load_timeline(history: list[tuple[float, int, int]], windows: list[dict[str, Any]],
                  t0: float, t1: float) -> str | None:
    """Locust requests/s and failures/s (from the cumulative history rows), with windows
    ({name, start, end}) shaded and labelled. None without history."""
    if len(history) < 2:
        return None
    answered: list[tuple[float, float | None]] = []
    failed: list[tuple[float, float | None]] = []
    for (ta, ra, fa), (tb, rb, fb) in zip(history, history[1:], strict=False):
        dt = max(tb - ta, 1e-6)
        answered.append((tb, max(0, (rb - ra) - (fb - fa)) / dt))
        failed.append((tb, max(0, fb - fa) / dt))
    axis = Axis(t0, t1)
    # series names sort into the palette's order: answered blue, failed red
    svg = line_panel("Locust users over the whole game day: requests per second, each "
                     "experiment's fault shaded", {"answered": answered, "failed": failed},
                     axis, windows, "/s", height=190)
    labels = []
    for w in windows:
        label = w.get("label", w["name"])
        x, anchor = axis.x(w["start"]) + 2, "start"
        if x + 6 * len(label) > WIDTH:  # keep a late label inside the picture
            x, anchor = WIDTH - 4, "end"
        labels.append(f'<text x="{x:.1f}" y="30" font-size="10" fill="{MUTED}" '
                      f'text-anchor="{anchor}">{escape(label)}</text>')
    return _add(svg, labels)


def experiment_panels(journal: dict[str, Any]) -> list[str]:
    """The load panel and the headline signal panel of one experiment's journal."""
    axis = journal_axis(journal)
    windows = fault_windows(journal)
    out = []
    load = load_panel(journal, axis, windows, "its probe load: requests per second (rejected "
                      "= 503/429 shed, client = 4xx, errors = 5xx or no answer)", height=150)
    if load:
        out.append(load)
    for kind, title, draw in (("breaker", "circuit breaker", "state"),
                              ("alarm", "CloudWatch alarms", "state"),
                              ("iterator_age", "IteratorAge (s)", "line"),
                              ("replicas", "replicas alive", "line")):
        chosen = signal(journal, kind)
        if not chosen:
            continue
        if draw == "state":
            out.append(state_panel(title, chosen, axis, windows))
        else:
            out.append(line_panel(title, chosen, axis, windows, height=130))
        break
    return out


def _table(result: GameDayResult) -> tuple[list[str], int]:
    """The summary table as SVG elements, and its height."""
    xs = (10, 200, 272, 480, 720, 860)
    row_h = 22
    parts = [f'<rect x="0" y="0" width="{WIDTH}" height="{row_h}" fill="#f0f0f0"/>']
    for x, name in zip(xs, cells.COLUMNS, strict=True):
        parts.append(f'<text x="{x}" y="15" font-size="11" font-weight="bold" fill="{INK}">'
                     f'{escape(name)}</text>')
    for i, exp in enumerate(result.experiments, start=1):
        y = i * row_h
        if i % 2 == 0:
            parts.append(f'<rect x="0" y="{y}" width="{WIDTH}" height="{row_h}" '
                         f'fill="#fafafa"/>')
        for x, column, text in zip(xs, cells.COLUMNS, cells.row(exp, short=True), strict=True):
            color = FAIL if cells.is_bad(exp, column) else (
                PASS if column == "verdict" else INK)
            weight = ' font-weight="bold"' if column == "verdict" else ""
            limit = {"detection": 37, "recovery": 38}.get(column, 30)
            shown = text if len(text) <= limit else text[: limit - 1] + "…"
            parts.append(f'<text x="{x}" y="{y + 15}" font-size="11" fill="{color}"{weight}>'
                         f'{escape(shown)}<title>{escape(text)}</title></text>')
    return parts, row_h * (len(result.experiments) + 1)


def summary_picture(result: GameDayResult, timeline: str | None,
                    featured: tuple[str, list[str]] | None) -> str:
    """The one-picture summary: headline, table, load timeline, one experiment's panels."""
    outcome = result.outcome
    color = PASS if outcome == "passed" else FAIL
    mode = result.options.get("mode", "")
    head = [f'<text x="10" y="24" font-size="18" font-weight="bold" fill="{INK}">'
            f'Game day: <tspan fill="{color}">{escape(outcome.upper())}</tspan></text>',
            f'<text x="10" y="44" font-size="12" fill="{MUTED}">'
            f'{len(result.experiments)} experiments · {escape(str(mode))} · seed {result.seed}'
            f' · {result.duration_s or 0:.0f} s · '
            f'{len(result.failed)} failed · replay: gameday run --seed {result.seed}</text>',
            f'<text x="10" y="60" font-size="12" fill="{MUTED}">under load: '
            f'{escape(cells.load_under(result))}</text>']
    y = 72
    body: list[str] = []
    table, table_h = _table(result)
    body.append(f'<g transform="translate(0,{y})">{"".join(table)}</g>')
    y += table_h + 12
    panels: list[tuple[str, str]] = []
    if timeline:
        panels.append(("", timeline))
    if featured:
        name, svgs = featured
        panels.append((f"{name}: its own load and signal (from its report.html)", ""))
        panels += [("", s) for s in svgs]
    for caption, svg in panels:
        if caption:
            body.append(f'<text x="10" y="{y + 14}" font-size="13" font-weight="bold" '
                        f'fill="{INK}">{escape(caption)}</text>')
            y += 20
            continue
        body.append(f'<g transform="translate(0,{y})">{svg}</g>')
        y += _height(svg) + 6
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y + 4}" '
            f'viewBox="0 0 {WIDTH} {y + 4}" font-family="system-ui,sans-serif" role="img" '
            f'aria-label="game day summary"><rect width="100%" height="100%" fill="white"/>'
            + "".join(head) + "".join(body) + "</svg>")
