"""The game day tab: status sources, table rows, the JSON route and the web UI extension."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from locust.env import Environment

from loadtests import status as status_mod
from loadtests.status import GamedayStatus, normalize_breakers, read_faults, table_rows
from loadtests.webui import STATUS_PATH, TAB_KEY, install_web_ui
from local_stack.state import write_state


def test_faults_from_the_ledger(tmp_path: Path) -> None:
    assert read_faults(tmp_path) == []
    now = time.time()
    (tmp_path / "ledger.json").write_text(json.dumps([
        {"name": "latency", "target": "payments", "expires_at": now + 30},
        {"name": "kill", "target": "storefront-1", "expires_at": now - 1},
        {"name": "blackhole", "target": "reviews",
         "expires_at": "2999-01-01T00:00:00Z"},
        {"name": "forever", "target": "redis"},
        {"name": "undone-early", "targets": ["payments-1"], "status": "undone",
         "expires_at": now + 60},
        {"name": "kill-replica", "targets": ["storefront-1", "storefront-2"],
         "status": "active", "expires_at": now + 60, "fault_id": "kill-replica-x"},
    ]))
    faults = read_faults(tmp_path, now)
    assert [f["name"] for f in faults] == ["latency", "blackhole", "forever", "kill-replica"]
    assert faults[-1]["target"] == "storefront-1, storefront-2"
    assert faults[0]["expires_in_s"] == pytest.approx(30, abs=0.2)
    (tmp_path / "ledger.json").write_text(json.dumps({"faults": [{"name": "x", "target": "y"}]}))
    assert read_faults(tmp_path)[0]["name"] == "x"


def test_breaker_layouts() -> None:
    shop = {"breakers": {"payments": {"dependency": "payments", "state": "open"},
                         "reviews": {"dependency": "reviews", "state": "closed"}}}
    assert [(b["name"], b["state"]) for b in normalize_breakers(shop)] == [
        ("payments", "open"), ("reviews", "closed")]
    assert normalize_breakers({"payments": "half_open"}) == [
        {"name": "payments", "state": "half_open"}]
    assert normalize_breakers([{"dependency": "reviews", "state": "open"}])[0]["name"] == \
        "reviews"


def test_rows_show_none_and_errors() -> None:
    rows = table_rows({"faults": [], "breakers": [], "alarms": [],
                       "errors": {"breakers": "no running stack"}, "counters": {}})
    assert {"kind": "fault", "name": "none", "state": "-", "detail": "no active fault"} in rows
    assert any(r["kind"] == "breaker" and r["name"] == "unavailable" for r in rows)
    assert any(r["kind"] == "alarm" and r["name"] == "none" for r in rows)


def fake_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_mod, "fetch_breakers", lambda url, token, timeout: [
        {"name": "payments", "state": "open"}])
    monkeypatch.setattr(status_mod, "cloudwatch_client", lambda endpoint, timeout: endpoint)
    monkeypatch.setattr(status_mod, "fetch_alarms", lambda client: [
        {"name": "storefront-5xx", "state": "ALARM", "reason": "threshold crossed"}])


def test_collect_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_sources(monkeypatch)
    write_state({"urls": {"storefront": "http://127.0.0.1:1", "aws": "http://127.0.0.1:2"},
                 "tokens": {"admin": "t"}}, tmp_path)
    source = GamedayStatus(tmp_path, counters=lambda: {"conflicts.http_409": {
        "total": 2, "by_route": {"/v1/carts/{cart_id}/items": 2}}})
    snap = source.snapshot()
    assert snap["breakers"] == [{"name": "payments", "state": "open"}]
    assert snap["alarms"][0]["state"] == "ALARM"
    assert snap["errors"] == {}
    assert source.snapshot() is snap  # cached within the TTL
    kinds = {(r["kind"], r["name"], r["state"]) for r in table_rows(snap)}
    assert {("breaker", "payments", "open"), ("alarm", "storefront-5xx", "ALARM"),
            ("counter", "conflicts.http_409", "2"), ("fault", "none", "-")} <= kinds


def test_collect_without_a_stack(tmp_path: Path) -> None:
    snap = GamedayStatus(tmp_path / "none").collect()
    assert snap["faults"] == []
    assert "no running stack" in snap["errors"]["breakers"]
    assert "no running stack" in snap["errors"]["alarms"]


def test_web_ui_tab_and_status_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_sources(monkeypatch)
    monkeypatch.setattr("sys.argv", ["locust"])  # the web UI parses the command line
    write_state({"urls": {"storefront": "http://127.0.0.1:1", "aws": "http://127.0.0.1:2"},
                 "tokens": {"admin": "t"}}, tmp_path)
    environment = Environment(host="http://127.0.0.1:1")
    environment.create_local_runner()
    web_ui = environment.create_web_ui("127.0.0.1", 0, delayed_start=True)
    install_web_ui(web_ui, GamedayStatus(tmp_path))
    client = web_ui.app.test_client()

    status: Any = client.get(STATUS_PATH).get_json()
    assert status["breakers"][0]["state"] == "open"

    page = client.get("/").get_data(as_text=True)
    assert '"extended_tabs": [{"key": "gameday", "title": "Game day"}]' in page

    stats = client.get("/stats/requests").get_json()
    assert "stats" in stats  # Locust's own answer is intact
    extended = {e["key"]: e["data"] for e in stats["extended_stats"]}
    assert any(row["name"] == "payments" for row in extended[TAB_KEY])
