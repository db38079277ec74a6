"""The `gameday` CLI never imports Locust: its gevent monkey-patching would turn `gameday up`'s
threads and subprocesses into greenlets and breaks ssl once urllib3 is loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loadtests.locust_free import parse_timespan


def test_cli_does_not_import_locust() -> None:
    code = ("import sys, gameday.cli; gameday.cli.build_parser(); "
            "print(sorted(m for m in ('gevent', 'locust') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("text", "seconds"), [
    ("30", 30), ("30s", 30), ("2m", 120), ("1h30m", 5400), ("1h30m20s", 5420), (" 5S ", 5),
])
def test_timespans(text: str, seconds: int) -> None:
    assert parse_timespan(text) == seconds


@pytest.mark.parametrize("text", ["", "3x", "m", "1.5m", "-3", "h"])
def test_bad_timespans(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timespan(text)
