"""The game-day report and the experiments' reports in a real browser, rendered by today's code
from a recorded run (`recorded_quick/`: what `gameday run --quick` wrote; see its README), so
no game day runs here. The end-to-end game day (tests/gameday) checks its own fresh report the
same way."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from chaos.report.html import write_html
from chaos.report.junit import write_junit
from gameday.run.report_files import write_report
from gameday.run.results import GameDayResult
from tests.browser.conftest import SCREENSHOTS
from tests.browser.report_checks import check_reports_in_a_browser

RECORDED = Path(__file__).with_name("recorded_quick")


def render(report_dir: Path) -> None:
    """Every file the report's code writes, written again from the recorded data."""
    summary = json.loads((report_dir / "summary.json").read_text())
    for exp in summary["experiments"]:
        files = exp["files"]
        journal = json.loads((report_dir / files["journal"]).read_text())
        write_html(journal, report_dir / files["html"])
        write_junit(journal, report_dir / files["junit"])
    write_report(GameDayResult.from_dict(summary), report_dir)


@pytest.fixture
def report(tmp_path: Path) -> Path:
    shutil.copytree(RECORDED, tmp_path / "report")
    render(tmp_path / "report")
    return tmp_path / "report"


def test_the_reports_open_clean_with_every_link_headline_and_verdict(
        report: Path, browser: Any) -> None:
    assert check_reports_in_a_browser(report, browser, pictures=bool(SCREENSHOTS)) is None
