"""A real browser for the tests in this folder: Debian's chromium driven by Playwright for
Python. Never `playwright install` (it downloads a browser from a host this network does not
reach): the system's chromium is launched by path. Skipped, saying why, when either is
missing; CI installs chromium (.ci/run).

`browser_page()` gives a page that records every console error and uncaught page error (of
the page and its frames) in `page.problems`, for the tests to assert on.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("GAMEDAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
# GAMEDAY_SCREENSHOTS=docs makes the tests save the README's pictures there
SCREENSHOTS = os.environ.get("GAMEDAY_SCREENSHOTS")


def _why_no_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM} (apt-get install chromium; CI does)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    why = _why_no_browser()
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} "
                                                 f"({m.location.get('url', '')})")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.problems = problems
    try:
        yield page
    finally:
        context.close()


def screenshot(page: Any, name: str, **kwargs: Any) -> None:
    """Save a picture for the docs when GAMEDAY_SCREENSHOTS names a folder."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), **kwargs)
