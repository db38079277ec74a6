"""kill-replica for both stacks: the local stack's processes (chaos/faults/kill_replica.py,
unchanged) or, when the state file describes a compose stack (`local_stack.compose state`
writes `"compose": {"project", "docker_host"}`), the service's containers through the Docker
Engine API (the `docker` package; DOCKER_HOST or the state file's docker_host, else the local
socket; a tcp:// daemon must be on loopback).

Compose modes (`--mode`, default crash):

- `crash`: the container's processes are SIGKILLed from inside (`docker exec`, as an OOM kill
  or a segfault would end them); the container exits 137 and Docker's restart policy restarts
  it at once. It needs `init: true` (docker-compose.yml sets it): PID 1 of a container ignores
  signals it has no handler for, docker-init does not. The fault ends by itself; `undo` only
  checks that the container runs again (and starts it if Docker did not).
- `stop`: `docker kill` (SIGKILL through the API). Docker counts that as a manual stop and does
  not restart the container: it stays down for the fault's duration and `undo` starts it (on
  schedule, or with `gameday chaos cleanup` / `reap` if the CLI died).

Targets are named `<service>-<container number>` (`storefront-2`), as compose numbers them.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import InjectionFailed
from chaos.faults import kill_replica
from chaos.faults.base import poll
from chaos.ledger import Entry
from chaos.safety import is_loopback_url

log = logging.getLogger("chaos.faults.compose_replica")

MODES = ("crash", "stop")
DEFAULT_MODE = "crash"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
# kill(-1) reaches every process of the container but PID 1 (docker-init) and the caller
CRASH_COMMAND = ["python", "-c", "import os, signal; os.kill(-1, signal.SIGKILL)"]
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
VERIFY_TIMEOUT_S = 10.0


def is_compose(ctx: ChaosContext) -> bool:
    """True when the context's state file describes a compose stack."""
    return bool(ctx.state.get("compose"))


def docker_host(ctx: ChaosContext) -> str:
    """The Docker daemon to use; InjectionFailed for a tcp:// daemon outside loopback."""
    compose = ctx.state.get("compose") or {}
    host = os.environ.get("DOCKER_HOST") or compose.get("docker_host") or DEFAULT_SOCKET
    if host.startswith(("tcp://", "http://", "https://")):
        probe = "http://" + host.split("://", 1)[1]
        if not is_loopback_url(probe):
            raise InjectionFailed(f"refusing the Docker daemon at {host}: only a local socket "
                                  "or a loopback tcp:// address")
    return host


def docker_client(host: str) -> Any:
    """A docker-py client for `host` (API version negotiated with the daemon)."""
    import docker

    try:
        return docker.DockerClient(base_url=host, version="auto", timeout=10)
    except docker.errors.DockerException as exc:
        raise InjectionFailed(f"cannot talk to the Docker daemon at {host}: {exc}") from exc


def replica_name(container: Any) -> str:
    labels = container.attrs.get("Config", {}).get("Labels") or {}
    return f"{labels.get(SERVICE_LABEL, '?')}-{labels.get(NUMBER_LABEL, '?')}"


def service_containers(client: Any, project: str, service: str) -> list[Any]:
    """The containers of one compose service, by container number."""
    found = client.containers.list(all=True, filters={"label": [
        f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"]})

    def number(container: Any) -> int:
        labels = container.attrs.get("Config", {}).get("Labels") or {}
        try:
            return int(labels.get(NUMBER_LABEL, 0))
        except ValueError:
            return 0

    return sorted(found, key=number)


def _snapshot(container: Any) -> dict[str, Any]:
    state = container.attrs.get("State") or {}
    return {"id": container.id, "started_at": state.get("StartedAt"),
            "restart_count": int(container.attrs.get("RestartCount") or 0),
            "status": state.get("Status")}


def _went_down(client: Any, before: dict[str, Any]) -> bool:
    container = client.containers.get(before["id"])
    now = _snapshot(container)
    return (now["status"] != "running" or now["started_at"] != before["started_at"]
            or now["restart_count"] > before["restart_count"])


class ComposeReplicas:
    """The Docker side of kill-replica (no ledger logic: KillReplica dispatches here)."""

    def _client(self, ctx: ChaosContext) -> tuple[Any, str]:
        project = str((ctx.state.get("compose") or {}).get("project") or "")
        if not project:
            raise InjectionFailed("the state file's compose entry has no project name")
        return docker_client(docker_host(ctx)), project

    def candidates(self, ctx: ChaosContext, service: str) -> list[str]:
        client, project = self._client(ctx)
        return [replica_name(c) for c in service_containers(client, project, service)
                if (c.attrs.get("State") or {}).get("Status") == "running"]

    def prepare_undo(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        client, project = self._client(ctx)
        by_name = {replica_name(c): c for c in service_containers(
            client, project, entry.params["service"])}
        missing = sorted(set(entry.targets) - set(by_name))
        if missing:
            raise InjectionFailed(f"no such container(s) in project {project}: {missing}")
        return {"docker": {"host": docker_host(ctx), "project": project,
                           "mode": entry.params.get("mode", DEFAULT_MODE),
                           "containers": {name: _snapshot(by_name[name])
                                          for name in entry.targets}}}

    def inject(self, ctx: ChaosContext, entry: Entry) -> None:
        import docker

        info = entry.undo["docker"]
        client = docker_client(info["host"])
        for name, before in info["containers"].items():
            try:
                if info["mode"] == "stop":
                    client.containers.get(before["id"]).kill(signal="SIGKILL")
                else:
                    exec_id = client.api.exec_create(before["id"], CRASH_COMMAND)["Id"]
                    client.api.exec_start(exec_id, detach=True)
            except docker.errors.APIError as exc:
                raise InjectionFailed(f"{name}: the Docker daemon refused: {exc}") from exc
            log.info("%s container %s (%s)", info["mode"], name, before["id"][:12])

    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        info = entry.undo["docker"]
        client = docker_client(info["host"])
        for name, before in info["containers"].items():
            if not poll(lambda b=before: _went_down(client, b), timeout_s=VERIFY_TIMEOUT_S,
                        interval_s=0.2):
                hint = (" (does the service run with `init: true`?)"
                        if info["mode"] == "crash" else "")
                raise InjectionFailed(f"{name} still runs {VERIFY_TIMEOUT_S:.0f} s after the "
                                      f"{info['mode']}{hint}")

    def undo(self, ctx: ChaosContext, entry: Entry) -> str:
        import docker

        info = entry.undo["docker"]
        client = docker_client(info["host"])
        done = []
        for name, before in info["containers"].items():
            try:
                container = client.containers.get(before["id"])
            except docker.errors.NotFound:
                done.append(f"{name} is gone (removed)")
                continue
            state = container.attrs.get("State") or {}
            if state.get("Status") == "running":
                done.append(f"{name} runs again (restarts: "
                            f"{int(container.attrs.get('RestartCount') or 0)})")
            elif state.get("Restarting") or state.get("Status") == "restarting":
                done.append(f"{name} is being restarted by Docker")
            else:
                container.start()
                done.append(f"started {name}")
        return "; ".join(done)


class KillReplica(kill_replica.KillReplica):
    """kill-replica: processes of the local stack, or containers of a compose stack."""

    summary = ("SIGKILL replicas of a service; held down for the duration (supervisor hold), "
               "or containers of a compose stack (--mode crash|stop)")

    def __init__(self) -> None:
        self.compose = ComposeReplicas()

    def normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("mode")
        clean = super().normalize({k: v for k, v in params.items() if k != "mode"})
        if mode is not None:
            if mode not in MODES:
                raise ValueError(f"kill-replica --mode must be one of {MODES}, got {mode!r}")
            clean["mode"] = mode
        return clean

    def candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        if is_compose(ctx) and not ctx.target_aws:
            # the plan records the mode it will use (effects, ledger, replay)
            params.setdefault("mode", DEFAULT_MODE)
            return self.compose.candidates(ctx, params["service"])
        if "mode" in params:
            raise InjectionFailed("--mode applies to a compose stack; the local stack's "
                                  "replicas are held down by the supervisor")
        return super().candidates(ctx, params)

    def effects(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        mode = params.get("mode")
        if mode is None:
            return super().effects(targets, params)
        what = ("SIGKILL its processes; Docker's restart policy restarts it" if mode == "crash"
                else "docker kill; started again when the fault ends")
        return [f"{mode} container {t}: {what}" for t in targets]

    def prepare_undo(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        if is_compose(ctx):
            return self.compose.prepare_undo(ctx, entry)
        return super().prepare_undo(ctx, entry)

    def inject(self, ctx: ChaosContext, entry: Entry) -> None:
        if "docker" in entry.undo:
            self.compose.inject(ctx, entry)
        else:
            super().inject(ctx, entry)

    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        if "docker" in entry.undo:
            self.compose.verify(ctx, entry)
        else:
            super().verify(ctx, entry)

    def undo(self, ctx: ChaosContext, entry: Entry) -> str:
        if "docker" in entry.undo:
            return self.compose.undo(ctx, entry)
        return super().undo(ctx, entry)


FAULTS = [KillReplica()]

