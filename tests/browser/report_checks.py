"""What a reader of a game-day report sees, checked in a real browser (chromium, Playwright):
index.html and one experiment's report.html open without a console error, every link resolves
(a file of the report, or an anchor of the page), the headline and every verdict row of every
experiment are there, and no PASSED row shows an error budget over 100 %.

Used by the browser tests on a recorded run and by the end-to-end game day on its own report.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _why_no_browser, screenshot

RAW_NUMBER = re.compile(r"^-?\d+\.\d{3,}$|^1[5-9]\d{8}(\.\d+)?$")  # 0.336, 1796195954.242


def check_reports_in_a_browser(report_dir: Path, browser: Any = None,
                               pictures: bool = False) -> str | None:
    """Check the report in chromium (`browser`, else one launched here); the reason when no
    browser is there (then nothing was checked)."""
    if browser is not None:
        _check(browser, report_dir, pictures)
        return None
    why = _why_no_browser()
    if why:
        return why
    # Playwright's sync API refuses a thread with a running asyncio loop, which an earlier test
    # in the same process may have left on the main thread: a thread of its own has none.
    failure: list[BaseException] = []

    def check() -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                launched = playwright.chromium.launch(executable_path=CHROMIUM,
                                                      args=CHROMIUM_ARGS)
                try:
                    _check(launched, report_dir, pictures)
                finally:
                    launched.close()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=check, name="report-browser-check")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return None


def _check(browser: Any, report_dir: Path, pictures: bool) -> None:
    summary = json.loads((report_dir / "summary.json").read_text())
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        check_index(page, report_dir, summary)
        if pictures:
            screenshot(page, "gameday-report.png")
        for exp in summary["experiments"]:
            if exp["files"].get("html"):
                check_experiment_page(page, report_dir, exp)
        assert problems == [], problems
    finally:
        context.close()


def _links_resolve(page: Any, base: Path) -> int:
    """Every <a href> of the page: an existing file under `base` or an anchor of the page."""
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    for href in hrefs:
        parts = urlsplit(href)
        assert parts.scheme in ("", "file"), f"a link out of the report: {href}"
        if parts.path:
            target = (base / unquote(parts.path)).resolve()
            assert target.is_file(), f"broken link {href} ({target})"
        elif parts.fragment:
            assert page.locator(f"[id='{parts.fragment}']").count() == 1, \
                f"no anchor for {href}"
    return len(hrefs)


def check_index(page: Any, report_dir: Path, summary: dict[str, Any]) -> None:
    page.goto((report_dir / "index.html").as_uri())
    headline = page.locator("h1").inner_text()
    assert headline == f"Game day: {summary['outcome'].upper()}", headline
    assert page.locator("#load-under").inner_text().startswith("Under load: ")
    assert _links_resolve(page, report_dir) > 5
    rows = page.locator("h2:text('Summary') + table tr")
    assert rows.count() == len(summary["experiments"]) + 1
    for i, exp in enumerate(summary["experiments"], start=1):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == exp["name"]
        budget = cells.nth(4).inner_text()
        shown = re.match(r"([\d.]+) %", budget)
        if exp["outcome"] == "passed" and shown:
            assert float(shown.group(1)) <= 100, f"{exp['name']} PASSED with {budget}"
        section = page.locator(f"h3[id='{exp['name']}']")
        assert section.count() == 1
        checks = page.locator(f"h3[id='{exp['name']}'] ~ table").first.locator("tr.check") \
            if exp["checks"] else None
        if checks is not None:
            titles = sorted(checks.locator("td:nth-child(2)").all_inner_texts())
            assert titles == sorted(c["title"] for c in exp["checks"]), exp["name"]


def check_experiment_page(page: Any, report_dir: Path, exp: dict[str, Any]) -> None:
    path = report_dir / exp["files"]["html"]
    journal = json.loads((report_dir / exp["files"]["journal"]).read_text())
    page.goto(path.as_uri())
    assert page.locator("h1").inner_text() == journal["experiment"]["title"]
    _links_resolve(page, path.parent)
    verdicts = page.locator("h2:text('Verdicts') + table tr")
    assert verdicts.count() == len(journal["verdicts"]) + 1
    titles = sorted(verdicts.locator("td:nth-child(2)").all_inner_texts())
    assert titles == sorted(v["title"] for v in journal["verdicts"])
    values = page.locator("h2:text('Numbers') ~ table").first.locator("td:nth-child(2)")
    raw = [v for v in values.all_inner_texts() if RAW_NUMBER.match(v.strip())]
    assert raw == [], f"numbers without a unit: {raw}"
    assert page.locator("svg").count() >= 1
