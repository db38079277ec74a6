"""A run's files: journal.json, report.html and junit.xml in its output directory."""

from __future__ import annotations

import logging
from pathlib import Path

from chaos.report.html import write_html
from chaos.report.journal import Journal
from chaos.report.junit import write_junit

log = logging.getLogger("chaos.runner.outputs")


def write_outputs(journal: Journal, out_dir: Path) -> dict[str, Path]:
    """Write the three files; a bug in the HTML report never hides the verdicts."""
    files = {"journal": journal.write(out_dir)}
    try:
        files["html"] = write_html(journal.data, out_dir / "report.html")
    except Exception:  # noqa: BLE001 - a report bug must not hide the verdicts
        log.exception("could not write the HTML report")
    files["junit"] = write_junit(journal.data, out_dir / "junit.xml")
    return files
