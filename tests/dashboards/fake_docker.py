"""A fake Docker Engine API on 127.0.0.1 (DOCKER_HOST=tcp://...) for the compose kill-replica
tests: containers with compose labels, `docker exec` (detached), kill, start, inspect, and the
restart-policy rule that matters here: a container whose process dies is restarted (if its
policy says so), a container killed through the API is not (Docker counts it as a manual stop).

A crash command kills the container only when it runs with `init: true` (HostConfig.Init): in
a container without an init, PID 1 survives `kill(-1, SIGKILL)` as it does in Docker.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.dashboards.helpers import RecordingServer

RESTART_DELAY_S = 0.3
API_VERSION = "1.43"


@dataclass
class FakeContainer:
    id: str
    project: str
    service: str
    number: int
    init: bool = True
    restart_policy: str = "unless-stopped"
    status: str = "running"
    started_at: str = "2026-01-01T00:00:00.000000000Z"
    restart_count: int = 0
    pid: int = 100
    exit_code: int = 0

    def attrs(self) -> dict[str, Any]:
        return {
            "Id": self.id, "Name": f"/{self.project}-{self.service}-{self.number}",
            "RestartCount": self.restart_count,
            "State": {"Status": self.status, "Running": self.status == "running",
                      "Restarting": self.status == "restarting", "Pid": self.pid,
                      "ExitCode": self.exit_code, "StartedAt": self.started_at},
            "Config": {"Image": "shop-gameday:local", "Labels": {
                "com.docker.compose.project": self.project,
                "com.docker.compose.service": self.service,
                "com.docker.compose.container-number": str(self.number)}},
            "HostConfig": {"Init": self.init, "RestartPolicy": {"Name": self.restart_policy}},
        }

    def run(self) -> None:
        self.status = "running"
        self.pid += 1
        self.exit_code = 0
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + \
            f".{time.time_ns() % 10**9:09d}Z"


@dataclass
class DockerState:
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    execs: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, project: str, service: str, number: int, **kw: Any) -> FakeContainer:
        ident = f"{len(self.containers) + 1:08x}" * 8  # 64 hex digits, unique
        container = FakeContainer(ident, project, service, number, **kw)
        self.containers[container.id] = container
        return container

    def crash(self, container: FakeContainer) -> None:
        """The container's process died: exit 137, then the restart policy applies."""
        container.status, container.exit_code = "exited", 137
        if container.restart_policy in ("always", "unless-stopped", "on-failure"):
            def restart() -> None:
                with self.lock:
                    container.restart_count += 1
                    container.run()
            threading.Timer(RESTART_DELAY_S, restart).start()


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def make_handler(state: DockerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any = None) -> None:
            data = b"" if body is None else (body if isinstance(body, bytes)
                                             else json.dumps(body).encode())
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(
                body, bytes) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            url = urlparse(self.path)
            path = re.sub(r"^/v1\.\d+", "", url.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            with state.lock:
                state.calls.append((self.command, path, body if body is not None else query))
                try:
                    status, answer = self._route(self.command, path, query, body)
                except ApiError as exc:
                    status, answer = exc.code, {"message": str(exc)}
            self._reply(status, answer)

        do_GET = do_POST = do_DELETE = _dispatch  # noqa: N815

        def _container(self, ident: str) -> FakeContainer:
            for container in state.containers.values():
                if container.id.startswith(ident):
                    return container
            raise ApiError(404, f"No such container: {ident}")

        def _route(self, method: str, path: str, query: dict[str, str],
                   body: Any) -> tuple[int, Any]:
            if path == "/_ping":
                return 200, b"OK"
            if path == "/version":
                return 200, {"ApiVersion": API_VERSION, "MinAPIVersion": "1.12",
                             "Version": "24.0.7", "Os": "linux"}
            if path == "/containers/json" and method == "GET":
                labels = json.loads(query.get("filters") or "{}").get("label", [])
                if isinstance(labels, dict):
                    labels = [k for k, v in labels.items() if v]
                wanted = dict(label.split("=", 1) for label in labels)
                show_all = query.get("all") in ("1", "true", "True")
                out = []
                for container in state.containers.values():
                    got = container.attrs()["Config"]["Labels"]
                    if all(got.get(k) == v for k, v in wanted.items()) and (
                            show_all or container.status == "running"):
                        out.append({"Id": container.id, "Labels": got,
                                    "State": container.status})
                return 200, out
            match = re.fullmatch(r"/containers/([0-9a-f\w]+)/(json|exec|kill|start)", path)
            if match:
                container = self._container(match.group(1))
                action = match.group(2)
                if action == "json" and method == "GET":
                    return 200, container.attrs()
                if action == "exec" and method == "POST":
                    if container.status != "running":
                        raise ApiError(409, f"Container {container.id} is not running")
                    if not isinstance(body, dict) or not isinstance(body.get("Cmd"), list) \
                            or not body["Cmd"]:
                        raise ApiError(400, "exec needs Cmd, a non-empty list")
                    exec_id = f"exec{len(state.execs) + 1}".ljust(64, "0")
                    state.execs[exec_id] = {"container": container.id, "cmd": body["Cmd"],
                                            "started": False}
                    return 201, {"Id": exec_id}
                if action == "kill" and method == "POST":
                    if container.status != "running":
                        raise ApiError(409, f"Container {container.id} is not running")
                    container.status, container.exit_code = "exited", 137  # a manual stop
                    return 204, None
                if action == "start" and method == "POST":
                    if container.status == "running":
                        return 304, None
                    container.run()
                    return 204, None
            match = re.fullmatch(r"/exec/(\w+)/(start|json)", path)
            if match:
                exec_ = state.execs.get(match.group(1))
                if exec_ is None:
                    raise ApiError(404, "No such exec instance")
                if match.group(2) == "json":
                    return 200, {"Running": False, "ExitCode": 0,
                                 "ContainerID": exec_["container"]}
                if not isinstance(body, dict) or body.get("Detach") is not True:
                    raise ApiError(400, "this fake only runs detached execs")
                exec_["started"] = True
                container = state.containers[exec_["container"]]
                if "os.kill(-1, signal.SIGKILL)" in " ".join(exec_["cmd"]) and container.init:
                    state.crash(container)
                return 200, None
            raise ApiError(404, f"page not found: {method} {path}")

    return Handler


class FakeDocker(RecordingServer):
    """`with FakeDocker() as docker:` → docker.host (tcp://...), docker.state."""

    def __init__(self) -> None:
        self.state = DockerState()
        super().__init__(make_handler(self.state))

    @property
    def host(self) -> str:
        return f"tcp://127.0.0.1:{self.server.server_address[1]}"
