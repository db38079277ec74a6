"""A readable, self-contained HTML report of one run: outcome, verdicts (observed vs
expected), numbers, fault windows, and timeline plots (inline SVG, see svg.py) of load,
errors, breaker states, IteratorAge, alarms and replicas, with the faults shaded."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from chaos.numbers import definition, format_value, seconds
from chaos.report.panels import fault_windows, journal_axis, load_panel, signal
from chaos.report.svg import line_panel, state_panel

CSS = """body{font-family:system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:13px;text-align:left;vertical-align:top}.pass{color:#2ca02c;font-weight:bold}
.fail{color:#d62728;font-weight:bold}h1{font-size:22px}h2{font-size:17px;margin-top:24px}
code{font-size:12px}.muted{color:#666}"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        return text if len(text) < 200 else text[:200] + "…"
    return str(value)


def observed_text(verdict: dict[str, Any]) -> str:
    """A verdict's observed value in its metric's unit (chaos.numbers), else as it is."""
    metric = verdict.get("metric")
    if metric and definition(metric) is not None:
        return format_value(metric, verdict.get("observed"))
    return _fmt(verdict.get("observed"))


def load_line(journal: dict[str, Any]) -> str:
    """'3 users (builtin): 68 requests in 4.6 s, 14.8 req/s' — the probe load it ran under."""
    load = journal.get("load") or {}
    summary = load.get("summary") or {}
    if not summary or summary.get("driver") in (None, "none"):
        return "no probe load"
    started, stopped = load.get("started_at"), load.get("stopped_at")
    requests = summary.get("requests")
    text = f"{summary.get('users', '?')} users ({summary.get('driver')})"
    if isinstance(requests, int):
        text += f": {requests} requests"
        if isinstance(started, int | float) and isinstance(stopped, int | float) \
                and stopped > started:
            text += f" in {seconds(stopped - started)}, {requests / (stopped - started):.1f} req/s"
    return text


def numbers_rows(numbers: dict[str, Any], t0: float | None) -> list[tuple[str, str, str, str]]:
    """(key, title, value, what it measures) of each number, in chaos.numbers' words."""
    rows = []
    for key, value in numbers.items():
        found = definition(key)
        rows.append((key, found.title if found else key, format_value(key, value, t0),
                     found.definition if found else ""))
    return rows


def _plots(journal: dict[str, Any]) -> list[str]:
    axis = journal_axis(journal)
    windows = fault_windows(journal, include_open=True)
    out = []
    load = load_panel(journal, axis, windows, "load: requests per second by outcome "
                      "(rejected = 503/429, errors = 5xx or no answer)")
    if load:
        out.append(load)
    if breakers := signal(journal, "breaker"):
        out.append(state_panel("circuit breakers", breakers, axis, windows))
    if ages := signal(journal, "iterator_age"):
        out.append(line_panel("IteratorAge (s, max over shards)", ages, axis, windows, "s"))
    if alarms := signal(journal, "alarm"):
        out.append(state_panel("CloudWatch alarms", alarms, axis, windows))
    if replicas := signal(journal, "replicas"):
        out.append(line_panel("replicas alive", replicas, axis, windows))
    return out


def render(journal: dict[str, Any]) -> str:
    outcome = journal.get("outcome", journal.get("status"))
    variant = journal.get("variant", "experiment")
    good = outcome == "passed" if variant == "experiment" else outcome in ("failed", "aborted")
    exp = journal.get("experiment") or {}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{escape(exp.get('title', 'chaos run'))}</title><style>{CSS}</style></head>",
        f"<body><h1>{escape(exp.get('title', 'chaos run'))}</h1>",
        f"<p>{escape(exp.get('description', ''))}</p>",
        f"<p>run <code>{escape(journal.get('run_id', ''))}</code> · {escape(variant)} · seed "
        f"{journal.get('seed')} · {escape(str(journal.get('start')))} · "
        f"{journal.get('duration', 0):.1f} s · outcome "
        f"<span class='{'pass' if good else 'fail'}'>{escape(str(outcome))}</span>"
        + (" (a negative control must fail)" if variant == "control" else "") + "</p>",
        f"<p>Probe load: {escape(load_line(journal))}</p>",
    ]
    if journal.get("reason"):
        parts.append(f"<p class='fail'>{escape(journal['reason'])}</p>")
    parts.append("<h2>Verdicts</h2><table><tr><th></th><th>check</th><th>observed</th>"
                 "<th>expected</th><th>note</th></tr>")
    for v in journal.get("verdicts", []):
        mark = "<span class='pass'>PASS</span>" if v["passed"] else \
            "<span class='fail'>FAIL</span>"
        parts.append(f"<tr><td>{mark}</td><td>{escape(v['title'])}</td>"
                     f"<td>{escape(observed_text(v))}</td><td>{escape(v['expected'])}</td>"
                     f"<td>{escape(v.get('detail') or '')}</td></tr>")
    parts.append("</table><h2>Timeline</h2>")
    parts += [f"<div>{svg}</div>" for svg in _plots(journal)]
    t0 = journal.get("start_ts", 0.0)
    parts.append("<h2>Numbers</h2><p class='muted'>Times are from the run's start (+s) or "
                 "durations; shares of requests are percentages.</p><table><tr><th>number"
                 "</th><th>value</th><th>what it measures</th></tr>")
    for key, label, value, meaning in numbers_rows(journal.get("numbers") or {}, t0):
        parts.append(f"<tr><td title='{escape(key)}'>{escape(label)}</td><td>{escape(value)}"
                     f"</td><td class='muted'>{escape(meaning)}</td></tr>")
    parts.append("</table><h2>Faults</h2><table><tr><th>fault</th><th>targets</th>"
                 "<th>start</th><th>end</th><th>undo</th></tr>")
    for f in journal.get("faults", []):
        if "ended" in f:
            w = f["ended"]
            parts.append(f"<tr><td>{escape(w['name'])} <code>{escape(w['fault_id'])}</code></td>"
                         f"<td>{escape(', '.join(w['targets']))}</td>"
                         f"<td>+{w['start'] - t0:.1f} s</td><td>+{(w['end'] or t0) - t0:.1f} s"
                         f"</td><td>{escape(f.get('undo', ''))}</td></tr>")
    parts.append("</table><h2>Activities</h2><table><tr><th>section</th><th>activity</th>"
                 "<th>status</th><th>duration</th><th>output</th></tr>")
    sections = [("before", (journal["steady_states"].get("before") or {}).get("probes", [])),
                ("method", journal.get("run", [])),
                ("after", (journal["steady_states"].get("after") or {}).get("probes", [])),
                ("rollback", journal.get("rollbacks", []))]
    for section, activities in sections:
        for a in activities:
            act = a["activity"]
            label = f"{act.get('type')} {act.get('name', '')}"
            parts.append(f"<tr><td>{section}</td><td>{escape(label)}</td>"
                         f"<td>{escape(a['status'])}</td><td>{a['duration']:.2f} s</td>"
                         f"<td>{escape(_fmt(a.get('output')))}</td></tr>")
    parts.append("</table><p>Plots: hand-written inline SVG (matplotlib not installed).</p>"
                 "</body></html>")
    return "\n".join(parts)


def write_html(journal: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(journal))
    return path
