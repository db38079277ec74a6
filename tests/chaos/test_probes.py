"""Probes that parse what others produce: Prometheus text, the admin breakers JSON shapes,
Locust's CSV and web stats, alarm history items, the audit's report."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chaos.load import locust_stats as locust
from chaos.probes import alarms, breakers, prometheus
from chaos.probes.audit import _looks_clean
from chaos.probes.waiting import wait_until

METRICS = """\
# HELP stream_runtime_iterator_age_seconds age
# TYPE stream_runtime_iterator_age_seconds gauge
stream_runtime_iterator_age_seconds{function="shop-inventory",shard="a"} 1.5
stream_runtime_iterator_age_seconds{function="shop-inventory",shard="b"} 4.0
stream_runtime_iterator_age_seconds{function="shop-payment",shard="a"} 9.0
# TYPE stream_runtime_errors_total counter
stream_runtime_errors_total{function="shop-inventory"} 3.0
"""


def test_prometheus_select_total_maximum() -> None:
    samples = prometheus.parse(METRICS)
    labels = {"function": "shop-inventory"}
    assert prometheus.maximum(samples, "stream_runtime_iterator_age_seconds", labels) == 4.0
    assert prometheus.total(samples, "stream_runtime_errors_total", labels) == 3.0
    assert prometheus.maximum(samples, "nope") is None


def test_breaker_shapes() -> None:
    assert breakers.parse_breakers({"breakers": {"payments": {"state": "half-open"}}}) == {
        "payments": "half_open"}
    assert breakers.parse_breakers({"breakers": [{"dependency": "reviews", "state": "OPEN"}]}) \
        == {"reviews": "open"}
    assert breakers.parse_breakers({"payments": "closed"}) == {"payments": "closed"}
    assert breakers.worst(["closed", "open", "half_open"]) == "open"


def test_locust_csv(tmp_path: Path) -> None:
    path = tmp_path / "locust_stats.csv"
    path.write_text("Type,Name,Request Count,Failure Count,Requests/s,99%\n"
                    "POST,checkout,90,9,3.0,420\n,Aggregated,100,10,3.3,400\n")
    assert locust.from_csv(path) == {"requests": 100, "failures": 10, "fail_ratio": 0.1,
                                     "rps": 3.3, "p99_ms": 400.0}


def test_locust_web_stats() -> None:
    body = json.dumps({"stats": [{"name": "Aggregated", "num_requests": 50, "num_failures": 1}],
                       "fail_ratio": 0.02, "total_rps": 4.5, "state": "running",
                       "current_response_time_percentiles": {
                           "response_time_percentile_0.99": 120}}).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if self.path == "/stats/requests" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stats = locust.from_web(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert stats == {"requests": 50, "failures": 1, "fail_ratio": 0.02, "rps": 4.5,
                     "p99_ms": 120, "state": "running"}


def test_alarm_history_items() -> None:
    item = {"HistoryItemType": "StateUpdate", "Timestamp": 100.0,
            "HistoryData": json.dumps({"oldState": {"stateValue": "OK"},
                                       "newState": {"stateValue": "ALARM"}})}
    assert alarms.parse_transition(item) == alarms.Transition(100.0, "OK", "ALARM")
    summary = {"Timestamp": 5.0, "HistorySummary": "Alarm updated from ALARM to OK"}
    assert alarms.parse_transition(summary) == alarms.Transition(5.0, "ALARM", "OK")
    assert alarms.parse_transition({"HistoryItemType": "Action", "Timestamp": 1.0}) is None


def test_audit_report_reading() -> None:
    assert _looks_clean({"ok": True, "problems": []})
    assert not _looks_clean({"ok": False})
    assert not _looks_clean({"problems": [{"check": "stuck_order"}]})


def test_wait_until_deadline_and_errors() -> None:
    calls = iter([1, 2, 3, 4, 5, 6])
    result = wait_until(lambda: next(calls), lambda v: v >= 3, 5, 0.01)
    assert result.ok and result.value == 3 and result.attempts == 3

    def boom() -> int:
        raise RuntimeError("down")

    failed = wait_until(boom, lambda v: True, 0.05, 0.01)
    assert not failed.ok and failed.error == "RuntimeError: down" and failed.attempts >= 2
    once = wait_until(lambda: 0, lambda v: v > 0, 0, 0.01)
    assert not once.ok and once.attempts == 1


def _history_item(ts: float, new: str, period: int, newest_start: str) -> dict[str, Any]:
    data = {"version": "1.0", "oldState": {"stateValue": "OK"}, "newState": {
        "stateValue": new, "stateReasonData": {
            "period": period, "evaluatedDatapoints": [
                {"timestamp": newest_start, "value": 5000.0},
                {"timestamp": "2026-11-22T08:08:50.000+0000"}]}}}
    return {"HistoryItemType": "StateUpdate", "Timestamp": ts, "HistoryData": json.dumps(data)}


def test_an_alarm_caused_by_data_from_before_the_fault_is_no_detection() -> None:
    """Detection ignores an ALARM whose evaluated datapoints all predate the fault (a leftover
    of the previous experiment, a late evaluation): the evaluator's StateReasonData says which
    periods it used."""
    fault = datetime(2026, 11, 22, 8, 9, 12, tzinfo=UTC).timestamp()
    old = alarms.parse_transition(_history_item(fault + 1, "ALARM", 10,
                                                "2026-11-22T08:09:00.000+0000"))
    assert old is not None and old.evaluated_until == fault - 2  # 08:09:10
    assert old.stale(fault) and not old.stale(None) and not old.stale(fault - 5)
    fresh = alarms.parse_transition(_history_item(fault + 9, "ALARM", 10,
                                                  "2026-11-22T08:09:10.000+0000"))
    assert fresh is not None and not fresh.stale(fault)  # its period ends after the start
    assert alarms.evaluated_until("not json") is None and alarms.evaluated_until(None) is None

    class Ctx:
        def client(self, service: str) -> Any:
            class Cloudwatch:
                def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:  # noqa: N803
                    data = json.loads(_history_item(0, "ALARM", 10, "2026-11-22T08:09:00.000"
                                                    "+0000")["HistoryData"])
                    return {"MetricAlarms": [{
                        "AlarmName": AlarmNames[0], "StateValue": "ALARM",
                        "StateReasonData": json.dumps(data["newState"]["stateReasonData"])}]}
            return Cloudwatch()

    ctx: Any = Ctx()
    assert alarms.alarm_state(ctx, "a", fresh_since=fault) == alarms.STALE_ALARM
    assert alarms.alarm_state(ctx, "a", fresh_since=fault - 5) == "ALARM"
    assert alarms.alarm_state(ctx, "a") == "ALARM"


def test_the_contributor_of_an_insight_alarm_comes_from_the_rule_report_else_the_reason() -> None:
    """alarm-contributor asks GetInsightRuleReport as an AWS user would; where the endpoint has
    none (moto), the local evaluator's topContributors in StateReasonData answer."""
    from botocore.exceptions import ClientError

    reason = {"period": 60, "evaluatedDatapoints": [
        {"timestamp": "2026-11-22T08:09:00.000+0000", "value": 7.0}],
        "topContributors": [{"Keys": ["cid-9"], "ApproximateAggregateValue": 7.0}]}
    alarm = {"AlarmName": "stuck", "StateValue": "ALARM", "StateReasonData": json.dumps(reason),
             "StateUpdatedTimestamp": datetime(2026, 11, 22, 8, 10, 1, tzinfo=UTC),
             "Metrics": [{"Id": "e1", "Expression": "INSIGHT_RULE_METRIC('r1', "
                                                   "'MaxContributorValue')"}]}

    class Cloudwatch:
        def __init__(self, report: dict[str, Any] | None) -> None:
            self.report = report
            self.asked: list[str] = []

        def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:  # noqa: N803
            return {"MetricAlarms": [alarm]}

        def get_insight_rule_report(self, **kwargs: Any) -> dict[str, Any]:
            self.asked.append(kwargs["RuleName"])
            if self.report is None:
                raise ClientError({"Error": {"Code": "NotImplemented"}}, "GetInsightRuleReport")
            return self.report

    class Ctx:
        def __init__(self, cw: Cloudwatch) -> None:
            self.cw = cw

        def client(self, service: str, attempts: int = 3) -> Cloudwatch:
            return self.cw

    fault = datetime(2026, 11, 22, 8, 9, 30, tzinfo=UTC).timestamp()
    local: Any = Ctx(Cloudwatch(None))
    found = alarms.top_contributor(local, "stuck", fresh_since=fault)
    assert (found["contributor"], found["value"], found["after_fault_s"]) == ("cid-9", 7.0, 31.0)
    assert local.cw.asked == ["r1"]
    aws: Any = Ctx(Cloudwatch({"Contributors": [
        {"Keys": ["cid-1"], "ApproximateAggregateValue": 9.0}]}))
    assert alarms.top_contributor(aws, "stuck", fresh_since=fault)["contributor"] == "cid-1"
    before: Any = Ctx(Cloudwatch(None))  # an ALARM on data from before the fault names nobody
    assert alarms.top_contributor(before, "stuck", fresh_since=fault + 3600)["contributor"] is None
