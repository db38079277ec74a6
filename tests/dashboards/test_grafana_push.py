"""`gameday dashboards push`, annotations and chaos's Grafana client against a fake Grafana
that checks the requests follow Grafana's HTTP API (tests/dashboards/fake_grafana.py)."""

from __future__ import annotations

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from chaos.report.grafana import GrafanaClient
from dashboards.grafana_annotations import GrafanaAnnotations, annotate_fault
from dashboards.grafana_http import GrafanaError, check_url
from dashboards.grafana_push import DEFAULT_FOLDER_UID, dashboard_files, push_dashboards
from gameday import dashboards_command
from local_stack.ports import free_port
from tests.dashboards.fake_grafana import FakeGrafana
from tests.dashboards.helpers import RecordingServer

TOKEN = "secret-token"


def gameday(*argv: str) -> int:
    """Run `gameday dashboards ...` through its module's register() (as gameday/cli.py
    will)."""
    parser = argparse.ArgumentParser(prog="gameday")
    sub = parser.add_subparsers(dest="command", required=True)
    dashboards_command.register(sub)
    args = parser.parse_args(["dashboards", *argv])
    return int(args.func(args))


# -- push ------------------------------------------------------------------------------------


def test_push_creates_the_folder_and_saves_every_dashboard() -> None:
    with FakeGrafana() as grafana:
        results = push_dashboards(grafana.url, TOKEN)
    state = grafana.state
    files = dashboard_files()
    assert len(results) == len(files) >= 6
    assert {r.uid for r in results} == {json.loads(f.read_text())["uid"] for f in files}
    assert all(r.status == "success" and r.version == 1 for r in results)
    calls = [(c.method, c.path) for c in state.calls]
    assert calls[:2] == [("GET", "/api/folders"), ("POST", "/api/folders")]
    assert calls[2:] == [("POST", "/api/dashboards/db")] * len(files)
    assert all(c.auth == f"Bearer {TOKEN}" for c in state.calls)
    assert state.folders[DEFAULT_FOLDER_UID]["title"] == "Shop game day"
    for call in state.calls[2:]:
        assert set(call.body) == {"dashboard", "folderUid", "overwrite", "message"}
        assert call.body["folderUid"] == DEFAULT_FOLDER_UID and call.body["overwrite"] is True
        assert call.body["dashboard"]["id"] is None


def test_a_second_push_reuses_the_folder_and_overwrites() -> None:
    with FakeGrafana() as grafana:
        push_dashboards(grafana.url, TOKEN)
        grafana.state.calls.clear()
        results = push_dashboards(grafana.url, TOKEN)
    assert [c.method for c in grafana.state.calls].count("POST") == len(results)  # no folder
    assert all(r.version == 2 for r in results)


def test_push_into_an_existing_folder_found_by_title() -> None:
    with FakeGrafana() as grafana:
        grafana.state.folders["abc"] = {"id": 7, "title": "Game days"}
        push_dashboards(grafana.url, TOKEN, folder="Game days", folder_uid="other",
                        files=dashboard_files()[:1])
    saves = [c for c in grafana.state.calls if c.path == "/api/dashboards/db"]
    assert saves[0].body["folderUid"] == "abc"


def test_no_overwrite_reports_the_conflict() -> None:
    with FakeGrafana() as grafana:
        first = push_dashboards(grafana.url, TOKEN, files=dashboard_files()[:1])[0]
        # unchanged in Grafana: the same version saves again without overwrite
        push_dashboards(grafana.url, TOKEN, overwrite=False, files=dashboard_files()[:1])
        grafana.state.dashboards[first.uid]["version"] = 9  # someone edited it in Grafana
        with pytest.raises(GrafanaError, match=r"exists and differs.*--overwrite.*412"):
            push_dashboards(grafana.url, TOKEN, overwrite=False, files=dashboard_files()[:1])


def test_basic_auth_from_the_url() -> None:
    with FakeGrafana(token=None, basic=("admin", "pw")) as grafana:
        url = grafana.url.replace("http://", "http://admin:pw@")
        results = push_dashboards(url, None, files=dashboard_files()[:1])
    assert results[0].status == "success"
    assert grafana.state.calls[0].auth.startswith("Basic ")


def test_a_bad_token_is_a_clear_401() -> None:
    with FakeGrafana() as grafana, pytest.raises(GrafanaError) as info:
        push_dashboards(grafana.url, "wrong")
    assert info.value.status == 401
    assert "refused the credentials (401)" in str(info.value)
    assert "GRAFANA_TOKEN" in str(info.value)
    assert grafana.state.dashboards == {}


def test_an_unreachable_grafana_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(GrafanaError, match=r"cannot reach Grafana at http://127\.0\.0\.1:\d+"):
        push_dashboards(url, TOKEN, timeout_s=2)


class _NotGrafana(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        data = b"<html>hello</html>"
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_something_that_is_not_grafana_is_named() -> None:
    with RecordingServer(_NotGrafana) as server, pytest.raises(GrafanaError,
                                                                match="not JSON"):
        push_dashboards(server.url, TOKEN)


@pytest.mark.parametrize("url, message", [
    ("ftp://127.0.0.1:3000", "not a Grafana URL"),
    ("127.0.0.1:3000", "not a Grafana URL"),
    ("http://127.0.0.1:99999", "out of range"),
    ("http://grafana.example.com:3000", "not on loopback"),
])
def test_bad_urls_are_refused_before_any_request(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        push_dashboards(url, TOKEN)


def test_remote_grafana_needs_allow_remote() -> None:
    assert check_url("http://grafana.example.com:3000/", allow_remote=True) == \
        "http://grafana.example.com:3000"


def test_a_grafana_under_a_sub_path() -> None:
    with FakeGrafana() as grafana:
        with pytest.raises(GrafanaError, match="not found"):
            push_dashboards(grafana.url + "/grafana", TOKEN)
    assert grafana.state.calls[0].path == "/grafana/api/folders"


# -- the command ------------------------------------------------------------------------------


def test_command_push_with_env(monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    with FakeGrafana() as grafana:
        monkeypatch.setenv("GRAFANA_URL", grafana.url)
        monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
        assert gameday("push", "--folder", "GD", "--folder-uid", "gd") == 0
    out = capsys.readouterr().out
    assert f"{len(dashboard_files())} dashboards in {grafana.url}" in out
    assert f"{grafana.url}/d/shop-saga/" in out
    assert grafana.state.folders["gd"]["title"] == "GD"


def test_command_push_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeGrafana() as grafana:
        assert gameday("push", "--grafana-url", grafana.url, "--token", "bad") == 1
    assert "401" in capsys.readouterr().err
    assert gameday("push", "--grafana-url", f"http://127.0.0.1:{free_port()}",
                   "--token", "t", "--timeout", "2") == 3  # nothing answered: unavailable
    assert "cannot reach Grafana" in capsys.readouterr().err
    assert gameday("push", "--grafana-url", "http://grafana.example.com") == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_command_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert gameday("list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["uid"] for r in rows} >= {"shop-golden-signals", "shop-load"}
    assert all(r["panels"] > 0 and r["queries"] >= r["panels"] for r in rows)


# -- annotations -------------------------------------------------------------------------------


def test_fault_annotation_start_and_end() -> None:
    with FakeGrafana() as grafana:
        annotations = GrafanaAnnotations(grafana.url, TOKEN)
        t0 = time.time()
        with annotate_fault(annotations, "kill-replica", "kill storefront-1",
                            planned_s=30, tags=["run-7"]) as annotation_id:
            assert annotation_id == 1
        stored = grafana.state.annotations[1]
    create, patch = grafana.state.calls
    assert (create.method, create.path) == ("POST", "/api/annotations")
    assert set(create.body) == {"time", "timeEnd", "tags", "text"}
    assert create.body["tags"] == ["chaos", "kill-replica", "run-7"]
    assert create.body["timeEnd"] - create.body["time"] == 30_000
    assert (patch.method, patch.path) == ("PATCH", "/api/annotations/1")
    assert set(patch.body) == {"timeEnd"}  # tags and text are kept
    assert stored["tags"] == ["chaos", "kill-replica", "run-7"]
    assert t0 * 1000 <= stored["timeEnd"] < create.body["timeEnd"]


def test_annotations_never_fail_the_fault(caplog: pytest.LogCaptureFixture) -> None:
    with FakeGrafana() as grafana:
        annotations = GrafanaAnnotations(grafana.url, "wrong")
        with annotate_fault(annotations, "lambda-error", "x") as annotation_id:
            assert annotation_id is None
    assert "not created" in caplog.text and "401" in caplog.text
    with annotate_fault(None, "lambda-error", "x") as annotation_id:
        assert annotation_id is None


def test_annotation_errors() -> None:
    with FakeGrafana() as grafana:
        annotations = GrafanaAnnotations(grafana.url, TOKEN)
        with pytest.raises(GrafanaError, match="404"):
            annotations.set_end(99, time.time())
        with pytest.raises(GrafanaError, match="401"):
            GrafanaAnnotations(grafana.url, None).annotate(1e9 * 1.7, 1e9 * 1.7, [], "t")
    with pytest.raises(GrafanaError, match="cannot reach"):
        GrafanaAnnotations(f"http://127.0.0.1:{free_port()}").annotate(
            time.time(), time.time(), ["chaos"], "t")


def test_command_annotate(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeGrafana() as grafana:
        assert gameday("annotate", "service-error", "--text", "payments 503",
                       "--duration", "20s", "--grafana-url", grafana.url, "--token", TOKEN) == 0
    body = grafana.state.calls[0].body
    assert body["tags"] == ["chaos", "service-error"] and body["text"] == "payments 503"
    assert body["timeEnd"] - body["time"] == 20_000
    assert "annotation 1" in capsys.readouterr().out


def test_chaos_grafana_client_uses_the_same_api() -> None:
    with FakeGrafana() as grafana:
        client = GrafanaClient(grafana.url, TOKEN)
        annotation_id = client.annotate(1.7e9, 1.7e9 + 15, ["chaos", "kill-replica", "run"],
                                        "kill payments")
        client.set_end(annotation_id, 1.7e9 + 12.5)
        with pytest.raises(GrafanaError, match="401"):
            GrafanaClient(grafana.url, "bad").annotate(1.7e9, 1.7e9, ["chaos"], "x")
    assert grafana.state.annotations[annotation_id]["timeEnd"] == int((1.7e9 + 12.5) * 1000)
