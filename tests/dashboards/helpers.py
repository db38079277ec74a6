"""Shared by the dashboard tests: read the dashboard JSON files, list every query (panel targets
and Prometheus annotation queries), substitute Grafana's variables as Grafana would, run small
local HTTP fakes, and start (and stop) the child processes of a test."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from dashboards.grafana_push import dashboard_files
from tests.conftest import REPO

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class Query:
    """One PromQL query of a dashboard."""

    uid: str
    panel_id: int | None
    title: str
    ref: str
    expr: str

    @property
    def name(self) -> str:
        return f"{self.uid}#{self.panel_id}/{self.ref} {self.title!r}"


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard file by UID."""
    out = {}
    for path in dashboard_files():
        board = json.loads(path.read_text())
        out[board["uid"]] = board
    return out


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included (rows themselves too)."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(board: dict[str, Any]) -> Iterator[Query]:
    """The Prometheus queries of every panel target and of every Prometheus annotation."""
    uid = board["uid"]
    for panel in panels(board):
        for target in panel.get("targets", []):
            yield Query(uid, panel["id"], panel["title"], target["refId"], target["expr"])
    for annotation in board.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            yield Query(uid, None, annotation["name"], "annotation", annotation["expr"])


def all_queries() -> list[Query]:
    return [q for board in load_dashboards().values() for q in queries(board)]


def variable_values(board: dict[str, Any]) -> dict[str, str]:
    """What a variable becomes with "All" selected (its allValue), by name."""
    values = {}
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            values[variable["name"]] = variable.get("allValue") or ".*"
    return values


def substitute(expr: str, values: dict[str, str], rate_interval: str = "5s",
               range_: str = "5m", interval: str = "1s") -> str:
    """`expr` with Grafana's global and template variables replaced; KeyError for an unknown
    variable (a dashboard must define every variable it uses)."""
    builtins = {"__rate_interval": rate_interval, "__range": range_, "__interval": interval}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in builtins:
            return builtins[name]
        return values[name]

    return _VARIABLE.sub(replace, expr)


class RecordingServer:
    """A ThreadingHTTPServer on 127.0.0.1:0 whose handler class is given; stopped on exit."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> RecordingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Children:
    """Child processes of a test, started from the repository each in its own session, each
    writing to `<log_dir>/<name>.log`. stop() ends them all: call it in a `finally` (or a
    fixture's teardown) so nothing outlives the test."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str],
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        assert name not in self.procs, f"{name} is already started"
        with (self.log_dir / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def alive(self) -> None:
        """Fail the test, with the end of its log, when a child has exited."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited {proc.returncode}:\n"
                                     f"{self.log(name)[-3000:]}")

    def stop(self) -> None:
        """SIGTERM every child's process group (the last started first); SIGKILL after 15 s."""
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs.values()):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
