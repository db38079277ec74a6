"""JUnit XML: one testsuite per run, one testcase per hypothesis probe and verdict (a failure
element carries observed vs expected), so CI shows each check on its own line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from chaos.report.html import numbers_rows, observed_text


def suite(journal: dict[str, Any]) -> ET.Element:
    """The run's <testsuite> element (the game day's report gathers them in <testsuites>)."""
    verdicts = journal.get("verdicts", [])
    variant = journal.get("variant", "experiment")
    title = (journal.get("experiment") or {}).get("title", "chaos run")
    root = ET.Element("testsuite", {
        "name": f"{title} [{variant}]",
        "tests": str(len(verdicts)),
        "failures": str(sum(1 for v in verdicts if not v["passed"])),
        "errors": "1" if journal.get("outcome") in ("error", "interrupted") else "0",
        "time": f"{journal.get('duration', 0):.3f}",
        "timestamp": str(journal.get("start", "")),
    })
    props = ET.SubElement(root, "properties")
    for key in ("run_id", "seed", "variant", "outcome"):
        ET.SubElement(props, "property", {"name": key, "value": str(journal.get(key))})
    for key, _title, value, _meaning in numbers_rows(journal.get("numbers") or {},
                                                     journal.get("start_ts")):
        ET.SubElement(props, "property", {"name": f"number.{key}", "value": value})
    classname = f"chaos.{variant}.{title}".replace(" ", "_")
    for v in verdicts:
        case = ET.SubElement(root, "testcase", {"classname": classname, "name": v["title"]})
        observed = observed_text(v) if v.get("metric") else \
            json.dumps(v["observed"], default=str)
        if not v["passed"]:
            failure = ET.SubElement(case, "failure", {
                "message": f"observed {observed[:300]}, expected {v['expected']}"})
            failure.text = v.get("detail") or ""
        else:
            ET.SubElement(case, "system-out").text = f"observed {observed[:300]}"
    if journal.get("outcome") in ("error", "interrupted"):
        case = ET.SubElement(root, "testcase", {"classname": classname, "name": "run"})
        ET.SubElement(case, "error", {"message": journal.get("reason") or journal["outcome"]})
    return root


def render(journal: dict[str, Any]) -> str:
    element = suite(journal)
    ET.indent(element)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="unicode")


def write_junit(journal: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(journal) + "\n")
    return path
