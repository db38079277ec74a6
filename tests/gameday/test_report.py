"""Report assembly from fake results: index.html, summary.json, junit.xml and summary.svg say
which experiment failed and why, and summary.json reads back into the same result."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from gameday.run import terminal
from gameday.run.report_files import write_report
from gameday.run.results import GameDayResult
from tests.gameday import fakes


def test_index_names_every_experiment_and_why_one_failed(tmp_path: Path) -> None:
    result = fakes.result(tmp_path)
    index = write_report(result, tmp_path)
    html = index.read_text()
    for name in ("storefront-replica-killed", "payments-breaker", "poison-record"):
        assert name in html
    assert "What failed" in html
    assert "breaker-opens" in html and "== &#x27;open&#x27; within 10s" in html
    assert "experiments/payments-breaker/journal.json" in html
    assert "Sabotaged on purpose" in html  # options.no_breaker
    assert "<svg" in html  # the load timeline and the experiment's panels


def test_summary_json_round_trips(tmp_path: Path) -> None:
    result = fakes.result(tmp_path)
    write_report(result, tmp_path)
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["outcome"] == "failed" and data["exit_code"] == 1
    assert [f["name"] for f in data["failed"]] == ["payments-breaker"]
    assert "breaker-opens" in data["failed"][0]["why"]
    rows = {e["name"]: e for e in data["experiments"]}
    assert rows["storefront-replica-killed"]["error_budget"]["used"] == 0.25  # 1 of 4 allowed
    assert rows["payments-breaker"]["detection"] == {"label": "payments breaker open",
                                                     "seconds": None}
    assert rows["poison-record"]["outcome"] == "not run"
    again = GameDayResult.from_dict(data)
    assert again.to_dict() == data


def test_junit_has_a_suite_per_experiment_and_one_for_the_game_day(tmp_path: Path) -> None:
    write_report(fakes.result(tmp_path), tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    breaker = suites["Payments replicas killed [experiment]"]
    assert breaker.get("failures") == "2"
    assert any("breaker-opens" in c.get("name", "") for c in breaker.findall("testcase"))
    assert suites["poison-record [experiment]"].get("errors") == "1"
    assert suites["gameday"].get("failures") == "0"


def test_summary_svg_is_one_valid_picture(tmp_path: Path) -> None:
    write_report(fakes.result(tmp_path), tmp_path)
    root = ET.parse(tmp_path / "summary.svg").getroot()
    assert root.tag.endswith("svg")
    text = (tmp_path / "summary.svg").read_text()
    assert "payments-breaker" in text and "FAILED" in text


def test_terminal_says_which_hypothesis_failed_and_why(tmp_path: Path) -> None:
    result = fakes.result(tmp_path)
    lines = "\n".join(terminal.summary_lines(result, tmp_path / "index.html"))
    assert "FAILED: payments-breaker" in lines
    assert "method-probe: breaker-opens: observed closed, expected == 'open' within 10s" in lines
    assert "game day FAILED: 1 of 3 experiments passed" in lines
    assert str(tmp_path / "index.html") in lines


LOAD_TEXT = ("60.0 req/s requested, 55.0 req/s achieved; 2.0 checkouts/s requested, "
             "1.9 checkouts/s achieved; 42 Locust users (12 buyers); 0.5 % failed (29 of 5500)")


def test_the_report_states_the_load_it_ran_under(tmp_path: Path) -> None:
    result = fakes.result(tmp_path)
    write_report(result, tmp_path)
    data = json.loads((tmp_path / "summary.json").read_text())
    # every rate is a count over Locust's one span (100 s): 5500 requests, 190 checkouts
    assert data["load_under"] == {
        "load_users": 42, "load_buyers": 12, "load_rate_requested": 60.0, "load_rate": 55.0,
        "load_checkout_rate_requested": 2.0, "load_checkout_rate": 1.9,
        "load_requests": 5500, "load_checkouts": 190, "load_failures": 29,
        "load_failure_ratio": 0.005273}
    html = (tmp_path / "index.html").read_text()
    assert f"Under load: <b>{LOAD_TEXT}</b>" in html
    assert "<td>achieved</td><td>55.0 req/s</td>" in html  # the load table, defined once
    assert LOAD_TEXT in (tmp_path / "summary.svg").read_text()
    lines = terminal.summary_lines(result, None)
    assert f"under {LOAD_TEXT}" in lines[-1]
    root = ET.parse(tmp_path / "junit.xml").getroot()
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["load"] == LOAD_TEXT
    assert props["load_rate"] == "55.0 req/s" and props["load_checkout_rate"] == "1.9 checkouts/s"
    assert props["load_failures"] == "29"


def test_a_load_that_did_not_report_says_so(tmp_path: Path) -> None:
    result = fakes.result(tmp_path)
    result.load = {"users_requested": 42, "requested": {"rate": 60.0, "checkout_rate": 2.0,
                                                        "users": 42, "buyers": 12}}
    load = result.load_under
    assert load["load_rate"] is None and load["load_checkout_rate"] is None
    assert load["load_rate_requested"] == 60.0
    from gameday.run.cells import load_under

    assert load_under(result).startswith("60.0 req/s requested, no Locust report; "
                                         "2.0 checkouts/s requested, no Locust report")


def test_one_truth_per_number_in_every_output(tmp_path: Path) -> None:
    """The budget share, the Locust context and the checks' values read the same in
    index.html, summary.json and the terminal (chaos.numbers writes each)."""
    result = fakes.result(tmp_path)
    write_report(result, tmp_path)
    html = (tmp_path / "index.html").read_text()
    data = {e["name"]: e for e in json.loads((tmp_path / "summary.json").read_text())
            ["experiments"]}
    assert data["storefront-replica-killed"]["error_budget"]["used"] == 0.25
    assert "25 % (1 failed of 400; 4.0 allowed at 1 %)" in html
    assert "25 %" in "\n".join(terminal.summary_lines(result, None))
    assert "Locust users during this experiment: 100 requests, 0 failed" in html
    assert data["payments-breaker"]["error_budget"]["over"] is True
    assert "2000 % (40 failed of 200" in html  # over budget: the verdict failed, red
