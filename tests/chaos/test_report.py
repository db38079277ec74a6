"""Outputs: journal (Chaos Toolkit-like), JUnit XML (one testcase per check), the HTML report
(inline SVG plots), Grafana annotations against a fake Grafana."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chaos.report import html, junit
from chaos.report.grafana import GrafanaClient
from chaos.report.journal import Journal
from chaos.safety import UnsafeTarget
from chaos.verdicts import Verdict

T0 = 1_700_000_000.0


def _journal() -> dict[str, Any]:
    journal = Journal("run-1", {"title": "Payments <killed>", "description": "d"}, "experiment",
                      7)
    journal.data["start_ts"] = T0
    activity = journal.activity("before", {"type": "probe", "name": "healthy"})
    activity.finish("succeeded", 200, tolerance_met=True)
    journal.steady_state_met("before", True)
    journal.activity("run", {"type": "fault", "name": "kill"}).finish("succeeded", {"id": 1})
    journal.append("faults", {"ended": {"fault_id": "f1", "name": "kill-replica", "step": "kill",
                                        "targets": ["payments-1"], "start": T0 + 5,
                                        "end": T0 + 20, "planned_end": T0 + 20},
                              "undo": "removed hold"})
    verdicts = [Verdict("breaker opens", "verdict", 2.5, "<= 10", True),
                Verdict("no 500", "verdict", 3, "== 0", False, "three 500s")]
    journal.set("verdicts", [v.to_dict() for v in verdicts])
    journal.set("numbers", {"time_to_breaker_open_s[payments]": 2.5})
    journal.set("timeline", {"series": {
        "breaker:payments": [(T0 + 1, "closed"), (T0 + 7, "open"), (T0 + 25, "closed")],
        "iterator_age:shop-inventory": [(T0 + 1, 0.1), (T0 + 10, 8.0), (T0 + 30, 0.2)],
        "alarm:jam": [(T0 + 1, "OK"), (T0 + 12, "ALARM"), (T0 + 30, "OK")],
        "replicas:payments": [(T0 + 1, 2), (T0 + 6, 0), (T0 + 24, 2)]}, "alarm_changes": {}})
    journal.set("load", {"per_second": [{"t": T0 + i, "ok": 5, "rejected": i % 3, "client": 0,
                                         "errors": 0} for i in range(40)]})
    journal.set("outcome", "failed")
    journal.finish("completed")
    journal.data["end_ts"] = T0 + 40
    return journal.data


def test_journal_is_chaos_toolkit_like(tmp_path: Path) -> None:
    journal = Journal("run-1", {"title": "t"}, "experiment", 1)
    journal.activity("run", {"type": "pause", "duration": "1s"}).finish("succeeded")
    journal.finish("completed")
    path = journal.write(tmp_path)
    data = json.loads(path.read_text())
    assert data["status"] == "completed" and data["run"][0]["status"] == "succeeded"
    for key in ("start", "end", "duration", "steady_states", "rollbacks", "experiment"):
        assert key in data
    assert {"start", "end", "duration", "output", "activity"} <= set(data["run"][0])


def test_junit_has_one_testcase_per_check() -> None:
    root = ET.fromstring(junit.render(_journal()))
    assert root.tag == "testsuite" and root.get("tests") == "2" and root.get("failures") == "1"
    cases = root.findall("testcase")
    assert [c.get("name") for c in cases] == ["breaker opens", "no 500"]
    failure = cases[1].find("failure")
    assert failure is not None and "observed 3, expected == 0" in failure.get("message", "")


def test_html_report_has_plots_and_escapes(tmp_path: Path) -> None:
    path = html.write_html(_journal(), tmp_path / "report.html")
    text = path.read_text()
    assert "Payments &lt;killed&gt;" in text and "<killed>" not in text
    assert text.count("<svg") == 5  # load, breakers, iterator age, alarms, replicas
    assert "fill-opacity=\"0.10\"" in text  # the fault window is shaded
    assert "FAIL" in text and "PASS" in text


class _FakeGrafana(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, dict[str, Any], str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append((self.command, self.path, body, self.headers.get("Authorization")))
        data = json.dumps({"id": 42, "message": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = _handle  # noqa: N815
    do_PATCH = _handle  # noqa: N815


def test_grafana_annotations() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGrafana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = GrafanaClient(f"http://127.0.0.1:{server.server_address[1]}", "tok")
        annotation = client.annotate(T0, T0 + 15, ["chaos", "kill-replica"], "kill payments")
        client.set_end(annotation, T0 + 12.5)
    finally:
        server.shutdown()
        server.server_close()
    (m1, p1, b1, auth), (m2, p2, b2, _) = _FakeGrafana.calls
    assert (m1, p1, auth) == ("POST", "/api/annotations", "Bearer tok")
    assert b1 == {"time": int(T0 * 1000), "timeEnd": int((T0 + 15) * 1000),
                  "tags": ["chaos", "kill-replica"], "text": "kill payments"}
    assert (m2, p2, b2) == ("PATCH", "/api/annotations/42", {"timeEnd": int((T0 + 12.5) * 1000)})


def test_grafana_must_be_loopback() -> None:
    with pytest.raises(UnsafeTarget):
        GrafanaClient("http://grafana.example.com:3000")


def test_numbers_are_written_with_units_never_as_raw_epochs_or_fractions() -> None:
    """Issue 14: the Numbers table showed `fault_start 1796195954.242` and
    `error_rate_during_fault 0.336` beside "error budget used 0 %"."""
    journal = _journal()
    journal["numbers"] = {"fault_start": T0 + 5.25, "fault_end": T0 + 20.0,
                          "error_rate_during_fault": 0.336, "error_budget_used": 0.6,
                          "error_budget_ratio": 0.05, "p99_during_fault_s": 0.0412,
                          "time_to_breaker_closed_s[payments]": None, "orders_lost": 0}
    journal["verdicts"].append({"title": "errors under 30 %", "kind": "verdict",
                                "observed": 0.336, "expected": "<= 30 %", "passed": False,
                                "metric": "error_rate", "detail": ""})
    page = html.render(journal)
    numbers = page.split("<h2>Numbers</h2>", 1)[1].split("<h2>", 1)[0]
    assert str(T0 + 5.25) not in numbers and "1700000005" not in numbers
    assert ">+5.2 s (" in numbers or ">+5.3 s (" in numbers  # from the run's start, clock
    assert ">33.6 %<" in numbers and ">60 %<" in numbers and ">5 %<" in numbers
    assert ">41 ms<" in numbers
    assert "payments breaker closed" in numbers and ">never<" in numbers
    assert "0.336" not in page
    assert "<td>33.6 %</td><td>&lt;= 30 %</td>" in page  # the verdict row, same unit
    suite = ET.fromstring(junit.render(journal))
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["number.error_rate_during_fault"] == "33.6 %"
    assert props["number.fault_start"].startswith("+5.")
    failure = next(c for c in suite.iter("testcase") if c.get("name") == "errors under 30 %")
    assert failure.find("failure").get("message") == "observed 33.6 %, expected <= 30 %"
