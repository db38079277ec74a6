"""The report directory of a game day:

    index.html        summary table, budgets, load, one section per experiment (report_html)
    summary.json      everything, for CI and scripts (results.GameDayResult.to_dict)
    junit.xml         one testsuite per experiment (its checks) + one for the game day itself
    summary.svg       the one-picture summary (plots.summary_picture)
    experiments/<name>/journal.json, report.html, junit.xml   (written by chaos.runner)
    load/             Locust: report.html, summary.json, locust_*.csv, locust.log
    stack/            the stack's logs and supervisor events, stack.json (ports, pids, urls)

`write_report` can run again on the same directory (e.g. after `--keep` ends): it rewrites the
files it owns and reads the experiments' journals and Locust's history from where they are.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from chaos.numbers import format_value, seconds
from gameday.run import cells, headline, plots, report_html
from gameday.run.results import NOT_RUN, GameDayResult
from local_stack.state import write_json_atomic

log = logging.getLogger("gameday.run.report")

FEATURED = ("payments-breaker",)  # the experiment the picture shows, when it ran


def read_journal(report_dir: Path, relative: str | None) -> dict[str, Any] | None:
    if not relative:
        return None
    try:
        return json.loads((report_dir / relative).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def fault_windows(result: GameDayResult) -> list[dict[str, Any]]:
    """Each experiment's fault window ({name, label, start, end}) for the load timeline."""
    out = []
    for exp in result.experiments:
        start, end = exp.numbers.get("fault_start"), exp.numbers.get("fault_end")
        if isinstance(start, int | float) and isinstance(end, int | float):
            out.append({"name": exp.name, "label": exp.name, "start": float(start),
                        "end": float(end), "targets": [exp.name], "role": "fault"})
    return out


def junit(result: GameDayResult, journals: dict[str, dict[str, Any] | None]) -> str:
    """One <testsuites>: the experiments' own suites (their checks, from `journals`: each
    experiment's journal by name, None when unreadable) and a `gameday` suite."""
    from chaos.report.junit import suite as experiment_suite

    root = ET.Element("testsuites", {"name": "gameday run",
                                     "time": f"{result.duration_s or 0:.3f}"})
    for exp in result.experiments:
        journal = journals.get(exp.name)
        if journal is not None:
            root.append(experiment_suite(journal))
            continue
        suite = ET.SubElement(root, "testsuite", {"name": f"{exp.title} [experiment]",
                                                  "tests": "1", "failures": "0",
                                                  "errors": "1"})
        case = ET.SubElement(suite, "testcase", {"classname": f"gameday.{exp.name}",
                                                 "name": "run"})
        ET.SubElement(case, "error", {"message": exp.reason or exp.outcome})
    suite = ET.SubElement(root, "testsuite", {"name": "gameday"})
    props = ET.SubElement(suite, "properties")
    for key, value in (("seed", result.seed), ("outcome", result.outcome),
                       ("replay", result.options.get("replay", "")),
                       ("load", cells.load_under(result))):
        ET.SubElement(props, "property", {"name": key, "value": str(value)})
    for key, value in result.load_under.items():
        ET.SubElement(props, "property", {"name": key, "value": format_value(key, value)})
    for b in result.budgets:
        seen = "not measured" if b.observed_s is None else seconds(b.observed_s)
        goal = "" if b.goal_s is None else f", goal < {seconds(b.goal_s)}"
        ET.SubElement(props, "property", {"name": f"budget.{b.name}",
                                          "value": f"{b.status}: observed {seen}{goal}"})
    cases = [("the stack started and served a request", result.error),
             ("nothing left running or bound after the game day",
              "; ".join(result.teardown.get("leftovers") or []))]
    if result.interrupted_by:
        cases.append(("the game day ran to the end", f"interrupted by {result.interrupted_by}"))
    failures = 0
    for name, problem in cases:
        case = ET.SubElement(suite, "testcase", {"classname": "gameday", "name": name})
        if problem:
            failures += 1
            ET.SubElement(case, "failure", {"message": problem})
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def write_report(result: GameDayResult, report_dir: Path) -> Path:
    """Write index.html, summary.json, junit.xml and summary.svg; the index's path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    history = headline.read_locust_history(report_dir / "load" / "locust_stats_history.csv")
    journals = {exp.name: read_journal(report_dir, exp.files.get("journal"))
                for exp in result.experiments}
    panels: dict[str, list[str]] = {}
    for exp in result.experiments:
        journal = journals[exp.name]
        if journal is not None and exp.outcome != NOT_RUN:
            try:
                panels[exp.name] = plots.experiment_panels(journal)
            except Exception:  # noqa: BLE001 - a plot bug must not hide the verdicts
                log.exception("could not plot %s", exp.name)
    timeline = None
    if history:
        t0 = result.started_at
        t1 = result.ended_at or history[-1][0]
        timeline = plots.load_timeline(history, fault_windows(result), t0, t1)
    write_json_atomic(report_dir / "summary.json", result.to_dict())
    (report_dir / "junit.xml").write_text(junit(result, journals) + "\n")
    featured = next(((e.name, panels[e.name]) for e in result.experiments
                     if e.name in FEATURED and panels.get(e.name)), None)
    if featured is None:
        featured = next(((e.name, panels[e.name]) for e in result.experiments
                         if panels.get(e.name)), None)
    (report_dir / "summary.svg").write_text(
        plots.summary_picture(result, timeline, featured) + "\n")
    index = report_dir / "index.html"
    index.write_text(report_html.render(result, timeline, panels))
    return index
