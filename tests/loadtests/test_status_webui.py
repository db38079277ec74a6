"""The game day tab: status sources, the JSON route, the page and the web UI extension (the
view's layout: test_status_view.py; the tab in a real browser: tests/browser)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from locust.env import Environment

from loadtests import status as status_mod
from loadtests.status import GamedayStatus, normalize_breakers, read_faults
from loadtests.webui import PAGE_PATH, STATUS_PATH, TAB_SCRIPT, install_web_ui
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
    calls = []
    monkeypatch.setattr(status_mod, "fetch_alarms", lambda client: calls.append(1) or [
        {"name": "storefront-5xx", "state": "ALARM", "reason": "threshold crossed"}])
    source = GamedayStatus(tmp_path, counters=lambda: {"conflicts.http_409": {
        "total": 2, "by_route": {"/v1/carts/{cart_id}/items": 2}}}, ttl_s=60)
    snap = source.snapshot()
    assert [(b["name"], b["state"]) for b in snap["breakers"]] == [("payments", "open")]
    assert snap["alarms"][0]["state"] == "ALARM"
    assert snap["errors"] == {}
    assert set(snap["read_at"]) == {"faults", "breakers", "alarms"}
    view = snap["view"]
    assert [a["name"] for a in view["alarms_firing"]] == ["storefront-5xx"]
    assert view["counters"][0] == {"name": "conflicts.http_409", "value": 2,
                                   "detail": "/v1/carts/{cart_id}/items: 2"}
    # the shop and CloudWatch are asked once per TTL; the ledger on every snapshot
    (tmp_path / "ledger.json").write_text(json.dumps([
        {"name": "latency", "target": "payments", "expires_at": time.time() + 30}]))
    again = source.snapshot()
    assert len(calls) == 1
    assert [f["name"] for f in again["faults"]] == ["latency"]
    assert again["read_at"]["faults"] >= snap["read_at"]["faults"]


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

    answer = client.get(STATUS_PATH)
    status: Any = answer.get_json()
    assert status["breakers"][0]["state"] == "open"
    assert status["view"]["breakers"][0]["label"] == "OPEN"
    assert answer.headers["Cache-Control"] == "no-store"

    # the tab is on Locust's index page, whatever the runner's state (here: ready, no swarm)
    page = client.get("/").get_data(as_text=True)
    assert page.count(TAB_SCRIPT) == 1 and page.index(TAB_SCRIPT) < page.index("</body>")
    assert client.get("/gameday/assets/tab.js").status_code == 200
    view = client.get(PAGE_PATH).get_data(as_text=True)
    assert 'src="/gameday/assets/gameday.js"' in view and str(tmp_path) in view
    assert client.get("/gameday/assets/gameday.js").status_code == 200
    assert client.get("/gameday/assets/nope.js").status_code == 404
    stats = client.get("/stats/requests").get_json()
    assert "stats" in stats  # Locust's own answers are left alone
