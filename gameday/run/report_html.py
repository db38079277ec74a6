"""`index.html` of a game-day report: the outcome and what failed (and why) first, then the
summary table (one row per experiment), the time budgets, the Locust load over the whole day,
one section per experiment (its checks, its plots, links to its journal.json, report.html and
junit.xml), and the stack (startup, teardown, logs). Self-contained: inline CSS and SVG."""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

from chaos.numbers import definition, format_value, seconds
from chaos.report.html import numbers_rows
from gameday.run import cells
from gameday.run.results import ExperimentSummary, GameDayResult

CSS = """body{font-family:system-ui,sans-serif;margin:24px;max-width:1040px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:13px;text-align:left;vertical-align:top}th{background:#f0f0f0}
.pass{color:#2ca02c;font-weight:bold}.fail{color:#d62728;font-weight:bold}.muted{color:#666}
h1{font-size:24px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin-top:20px}code{font-size:12px}ul.why li{margin:4px 0}
details{margin:6px 0}svg{display:block;margin:4px 0}"""


def _when(ts: float | None) -> str:
    return "?" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _cls(bad: bool) -> str:
    return "fail" if bad else ""


def _link(path: str | None, text: str) -> str:
    return f'<a href="{escape(path)}">{escape(text)}</a>' if path else ""


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= 160 else text[:160] + "…"


def render(result: GameDayResult, timeline_svg: str | None = None,
           panels: dict[str, list[str]] | None = None) -> str:
    """The whole page; `panels` maps an experiment name to its SVG panels."""
    panels = panels or {}
    outcome = result.outcome
    opts = result.options
    parts = ["<!doctype html><html><head><meta charset='utf-8'>",
             f"<title>Game day {escape(outcome)}</title><style>{CSS}</style></head><body>",
             f"<h1>Game day: <span class='{'pass' if outcome == 'passed' else 'fail'}'>"
             f"{escape(outcome.upper())}</span></h1>",
             f"<p>{_when(result.started_at)} · {result.duration_s or 0:.0f} s · "
             f"{len(result.experiments)} experiments ({escape(str(opts.get('mode', '')))}) · "
             f"seed {result.seed} · replay: <code>{escape(opts.get('replay', ''))}</code></p>",
             f"<p id='load-under'>Under load: <b>{escape(cells.load_under(result))}</b> "
             "(the shipped journeys, the whole day), plus each experiment's own probe load."
             "</p>"]
    if opts.get("no_breaker"):
        parts.append("<p class='fail'>Sabotaged on purpose: the stack ran with the circuit "
                     "breakers off (<code>--no-breaker</code>), a negative control — the "
                     "payments-breaker hypothesis must fail.</p>")
    if result.error:
        parts.append(f"<p class='fail'>The game day could not run: {escape(result.error)}</p>")
    if result.interrupted_by:
        parts.append(f"<p class='fail'>Interrupted by {escape(result.interrupted_by)}: faults "
                     "were rolled back and the stack stopped; the results below are "
                     "partial.</p>")
    if result.failed:
        parts.append("<h2>What failed</h2><ul class='why'>")
        for exp in result.failed:
            parts.append(f"<li><a href='#{escape(exp.name)}'>{escape(exp.name)}</a> "
                         f"<span class='fail'>{escape(exp.outcome)}</span>: "
                         f"{escape(exp.why())}</li>")
        parts.append("</ul>")
    parts.append(_summary_table(result))
    parts.append(_budgets(result))
    parts.append(_load(result, timeline_svg))
    parts.append("<h2>Experiments</h2>")
    for exp in result.experiments:
        parts.append(_experiment(exp, panels.get(exp.name, [])))
    parts.append(_stack(result))
    parts.append("<p class='muted'>Files: <a href='summary.json'>summary.json</a> · "
                 "<a href='junit.xml'>junit.xml</a> · <a href='summary.svg'>summary.svg</a> · "
                 "<a href='gameday-run.log'>gameday-run.log</a>. Plots are hand-written inline "
                 "SVG (chaos/report/svg.py).</p></body></html>")
    return "\n".join(parts)


def _summary_table(result: GameDayResult) -> str:
    parts = ["<h2>Summary</h2><table><tr>"]
    parts += [f"<th>{escape(c)}</th>" for c in (*cells.COLUMNS, "duration", "files")]
    parts.append("</tr>")
    for exp in result.experiments:
        parts.append("<tr>")
        for column, text in zip(cells.COLUMNS, cells.row(exp), strict=True):
            if column == "experiment":
                parts.append(f"<td><a href='#{escape(exp.name)}'>{escape(text)}</a></td>")
                continue
            bad = cells.is_bad(exp, column)
            css = "fail" if bad else ("pass" if column == "verdict" else "")
            parts.append(f"<td class='{css}'>{escape(text)}</td>")
        duration = f"{exp.duration_s:.0f} s" if exp.duration_s is not None else "—"
        links = " · ".join(x for x in (_link(exp.files.get("html"), "report"),
                                       _link(exp.files.get("journal"), "journal"),
                                       _link(exp.files.get("junit"), "junit")) if x)
        parts.append(f"<td>{duration}</td><td>{links or '—'}</td></tr>")
    parts.append("</table><ul class='muted'>")
    parts += [f"<li><b>{escape(column.capitalize())}</b>: {escape(text)}.</li>"
              for column, text in cells.legend()]
    parts.append("</ul>")
    return "".join(parts)


def _budgets(result: GameDayResult) -> str:
    if not result.budgets:
        return ""
    parts = ["<h2>Time budgets</h2><table><tr><th>budget</th><th>goal</th><th>observed</th>"
             "<th></th><th>how</th></tr>"]
    for b in result.budgets:
        goal = f"&lt; {b.goal_s:g} s" if b.goal_s is not None else "—"
        seen = seconds(b.observed_s) if b.observed_s is not None else "—"
        css = {"within": "pass", "over": "fail"}.get(b.status, "muted")
        parts.append(f"<tr><td>{escape(b.title)}</td><td>{goal}</td><td>{seen}</td>"
                     f"<td class='{css}'>{escape(b.status)}</td><td>{escape(b.source)}</td>"
                     "</tr>")
    parts.append("</table><p class='muted'>Reported, not asserted: the experiments' own "
                 "verdicts decide the outcome.</p>")
    return "".join(parts)


def _load(result: GameDayResult, timeline_svg: str | None) -> str:
    load = result.load
    parts = ["<h2>Load (Locust, the shipped journeys, paced)</h2>"]
    total = load.get("total") or {}
    numbers = result.load_under
    parts.append("<table id='load-numbers'><tr><th>number</th><th>value</th>"
                 "<th>what it measures</th></tr>")
    for key in cells.load_rows():
        found = definition(key)
        if found is None:
            continue
        parts.append(f"<tr><td>{escape(found.title)}</td>"
                     f"<td>{escape(format_value(key, numbers.get(key)))}</td>"
                     f"<td class='muted'>{escape(found.definition)}</td></tr>")
    parts.append("</table>")
    if total:
        parts.append(f"<p>Locust ran for {load.get('duration_s') or 0:.0f} s; latency p95 "
                     f"{total.get('p95_ms')} ms, p99 {total.get('p99_ms')} ms.</p>")
    if load.get("note"):
        parts.append(f"<p class='muted'>{escape(load['note'])}</p>")
    if timeline_svg:
        parts.append(f"<div>{timeline_svg}</div>")
    files = load.get("files") or {}
    if files:
        parts.append("<p>" + " · ".join(
            _link(f"load/{name}", label) for label, name in files.items()) + "</p>")
    routes = load.get("routes") or []
    if routes:
        parts.append("<details><summary>per route</summary><table><tr><th>route</th>"
                     "<th>requests</th><th>failures</th><th>p95 ms</th><th>p99 ms</th></tr>")
        for r in routes:
            parts.append(f"<tr><td>{escape(str(r.get('method', '')))} "
                         f"{escape(str(r.get('name', '')))}</td><td>{r.get('requests')}</td>"
                         f"<td class='{_cls(bool(r.get('failures')))}'>{r.get('failures')}</td>"
                         f"<td>{r.get('p95_ms')}</td><td>{r.get('p99_ms')}</td></tr>")
        parts.append("</table></details>")
    return "".join(parts)


def _experiment(exp: ExperimentSummary, svgs: list[str]) -> str:
    css = "pass" if exp.passed else "fail"
    parts = [f"<h3 id='{escape(exp.name)}'>{escape(exp.name)}: "
             f"<span class='{css}'>{escape(cells.verdict(exp))}</span></h3>",
             f"<p><b>{escape(exp.title)}</b><br>{escape(exp.description)}</p>"]
    links = " · ".join(x for x in (_link(exp.files.get("html"), "full report (report.html)"),
                                   _link(exp.files.get("journal"), "journal.json"),
                                   _link(exp.files.get("junit"), "junit.xml")) if x)
    meta = f"seed {exp.seed} · " if exp.seed is not None else ""
    duration = f"{exp.duration_s:.0f} s" if exp.duration_s is not None else "not run"
    parts.append(f"<p class='muted'>{meta}{duration}" + (f" · {links}" if links else "")
                 + (f" · replay: <code>gameday chaos run chaos/experiments/{escape(exp.name)}"
                    f".yaml --seed {exp.seed}</code>" if exp.seed is not None else "")
                 + "</p>")
    if exp.reason:
        parts.append(f"<p class='fail'>{escape(exp.reason)}</p>")
    if exp.checks:
        failed = exp.failed_checks
        parts.append(f"<p>{len(exp.checks) - len(failed)} of {len(exp.checks)} checks passed."
                     "</p><table><tr><th></th><th>check</th><th>observed</th><th>expected</th>"
                     "<th>note</th></tr>")
        for c in sorted(exp.checks, key=lambda c: c.passed):
            mark = "<span class='pass'>PASS</span>" if c.passed else \
                "<span class='fail'>FAIL</span>"
            observed = c.observed_text() if c.metric else _value(c.observed)
            parts.append(f"<tr class='check'><td>{mark}</td><td>{escape(c.title)}</td>"
                         f"<td>{escape(observed)}</td><td>{escape(c.expected)}</td>"
                         f"<td>{escape(c.detail)}</td></tr>")
        parts.append("</table>")
    if exp.locust is not None:
        requests, failures = exp.locust.get("requests", 0), exp.locust.get("failures", 0)
        share = f" ({failures / requests * 100:.1f} %)" if requests else ""
        rate = exp.locust.get("rps")
        rate_text = f", {format_value('load_rate_during', rate)}" if rate is not None else ""
        parts.append(f"<p class='muted'>The game day's Locust users during this experiment: "
                     f"{requests} requests{rate_text}, {failures} failed{share} — context, not "
                     "judged: the error budget above judges the experiment's own probe "
                     "load.</p>")
    parts += [f"<div>{svg}</div>" for svg in svgs]
    if exp.numbers:
        parts.append("<details><summary>Numbers</summary><table><tr><th>number</th>"
                     "<th>value</th><th>what it measures</th></tr>")
        for key, label, value, meaning in numbers_rows(exp.numbers, exp.started_at):
            parts.append(f"<tr><td title='{escape(key)}'>{escape(label)}</td>"
                         f"<td>{escape(value)}</td><td class='muted'>{escape(meaning)}</td></tr>")
        parts.append("</table></details>")
    return "".join(parts)


def _stack(result: GameDayResult) -> str:
    stack, warm, down = result.stack, result.warmup, result.teardown
    parts = ["<h2>Stack</h2><table>"]
    rows = [
        ("started with", f"<code>{escape(stack.get('command', ''))}</code>"),
        ("timings", f"first request served {stack.get('first_request_s', '?')} s after the "
                    f"command; whole stack ready after {stack.get('ready_s', '?')} s "
                    f"({stack.get('ready_after_s', '?')} s inside <code>gameday up</code>)"),
        ("warm-up order", escape(f"{warm.get('order_id', '—')} {warm.get('status', '')} in "
                                 f"{warm.get('seconds', '?')} s")),
        ("teardown", escape(down.get("summary", "—"))),
    ]
    for line in down.get("leftovers") or []:
        rows.append(("<span class='fail'>left behind</span>", escape(line)))
    for line in down.get("faults_undone") or []:
        rows.append(("fault undone at the end", escape(line)))
    logs = stack.get("logs") or []
    if logs:
        rows.append(("logs", " · ".join(_link(p, p.rsplit("/", 1)[-1]) for p in logs)))
    for key, value in rows:
        parts.append(f"<tr><td>{key}</td><td>{value}</td></tr>")
    parts.append("</table>")
    return "".join(parts)
