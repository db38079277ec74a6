"""Shared by the dashboard tests: read the dashboard JSON files, list every query (panel targets
and Prometheus annotation queries), substitute Grafana's variables as Grafana would, and run
small local HTTP fakes."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
GRAFANA_DIR = REPO / "dashboards" / "grafana"
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


def dashboard_files() -> list[Path]:
    return sorted(GRAFANA_DIR.glob("*.json"))


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
