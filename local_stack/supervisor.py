"""Process supervision for the local stack: start, watch, replace, stop.

Each service is a group of replica *slots*. When a replica dies, the supervisor replaces it after
`replace_delay_s` (as an auto-scaling group or an ECS service would), waits until the new replica
answers its health check, and logs the time from death to healthy. A *hold* (a JSON file under
`<state_dir>/holds/<service>.json` with an `until` epoch) keeps a service's dead replicas down
until it expires: the chaos CLI uses it to keep replicas killed for a fault's duration, and the
expiry is enforced here, by the target, so a fault ends even if the CLI that set it is gone.

Why hand-written: supervisord/circus would add a daemon with its own config and no notion of a
replacement delay, holds or health-checked replacement times; this is ~250 lines of stdlib.

Children get PR_SET_PDEATHSIG(SIGTERM) so they die with the supervisor even on SIGKILL, and run
in their own session so a terminal Ctrl-C reaches only the supervisor, which then stops them in
order.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("local_stack.supervisor")

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn (runs in the child between fork and exec): SIGTERM the child when the thread
    that started it dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class ProcessSpec:
    """How to start one process and how to know it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    health_path: str | None = None  # HTTP GET on 127.0.0.1:port; None → a TCP connect is enough


class ManagedProcess:
    """One running child process and its log file."""

    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self.popen: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.spec.log_path.open("ab")
        env = {**os.environ, **self.spec.env}
        self.popen = subprocess.Popen(  # noqa: S603 - argv is built by the stack, not a shell
            self.spec.argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
            start_new_session=True,
        )
        self.started_at = time.time()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def exit_code(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def healthy(self, timeout_s: float = 0.5) -> bool:
        """Ready when alive and its port (and health path, if any) answers."""
        if not self.alive() or self.spec.port is None:
            return self.alive()
        if self.spec.health_path is None:
            from local_stack.ports import is_port_bound

            return is_port_bound(self.spec.port)
        url = f"http://127.0.0.1:{self.spec.port}{self.spec.health_path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - loopback
                return resp.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if not self.alive():
                raise RuntimeError(
                    f"{self.spec.name} exited with code {self.exit_code()} during start; "
                    f"see {self.spec.log_path}"
                )
            time.sleep(0.05)
        raise TimeoutError(
            f"{self.spec.name} not healthy after {timeout_s:.0f} s; see {self.spec.log_path}"
        )

    def stop(self, grace_s: float = 5.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                self.popen.terminate()
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM for %.0f s; killing it", self.spec.name, grace_s)
                self.popen.kill()
                self.popen.wait(timeout=grace_s)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Slot:
    """A replica slot: the index and port stay, the process in it is replaced."""

    index: int
    spec: ProcessSpec
    process: ManagedProcess
    died_at: float | None = None  # wall clock when the death was noticed
    replacing: ManagedProcess | None = None


@dataclass
class ServiceGroup:
    """A service with N replica slots; `restart` False means a death stops the stack."""

    name: str
    slots: list[Slot] = field(default_factory=list)
    restart: bool = True


class Supervisor:
    """Watches every group; replaces dead replicas; writes events; stops all in order."""

    def __init__(
        self,
        state_dir: Path,
        replace_delay_s: float = 1.0,
        on_change: Callable[[], None] | None = None,
        poll_interval_s: float = 0.1,
    ) -> None:
        self.state_dir = state_dir
        self.replace_delay_s = replace_delay_s
        self.on_change = on_change
        self.poll_interval_s = poll_interval_s
        self.groups: list[ServiceGroup] = []
        self.fatal: str | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._events_path = state_dir / "events.jsonl"
        self._lock = threading.Lock()

    # -- starting ---------------------------------------------------------------------------
    def start_group(
        self, name: str, specs: list[ProcessSpec], restart: bool = True, timeout_s: float = 30.0
    ) -> ServiceGroup:
        """Start every replica of a group and wait until all are healthy."""
        group = ServiceGroup(name=name, restart=restart)
        for index, spec in enumerate(specs, start=1):
            process = ManagedProcess(spec)
            process.start()
            group.slots.append(Slot(index=index, spec=spec, process=process))
        for slot in group.slots:
            slot.process.wait_healthy(timeout_s)
            self.event("started", slot.spec.name, pid=slot.process.pid, port=slot.spec.port)
        with self._lock:
            self.groups.append(group)
        return group

    def watch(self) -> None:
        """Start the monitor thread."""
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    # -- holds (fault expiry enforced by the target) ---------------------------------------
    def hold_until(self, service: str) -> float:
        path = self.state_dir / "holds" / f"{service}.json"
        try:
            data = json.loads(path.read_text())
            until = float(data["until"])
        except FileNotFoundError:
            return 0.0
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            log.error("ignoring unreadable hold file %s", path)
            return 0.0
        if until <= time.time():
            path.unlink(missing_ok=True)
            self.event("hold_expired", service, until=until)
            return 0.0
        return until

    # -- monitoring -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.wait(self.poll_interval_s):
            try:
                self._tick()
            except Exception:  # keep supervising whatever happens in one tick
                log.exception("supervisor tick failed")

    def _tick(self) -> None:
        changed = False
        for group in list(self.groups):
            held = self.hold_until(group.name) if group.restart else 0.0
            for slot in group.slots:
                changed |= self._tick_slot(group, slot, held)
        if changed and self.on_change:
            self.on_change()

    def _tick_slot(self, group: ServiceGroup, slot: Slot, held_until: float) -> bool:
        if self._stopping.is_set():
            return False
        now = time.time()
        if slot.replacing is not None:
            if slot.replacing.healthy(timeout_s=0.3):
                took = now - (slot.died_at or now)
                old_pid = slot.process.pid
                slot.process.stop(grace_s=0.5)
                slot.process, slot.replacing, slot.died_at = slot.replacing, None, None
                log.info(
                    "replica %s replaced in %.2f s (pid %s -> %s)",
                    slot.spec.name, took, old_pid, slot.process.pid,
                )
                self.event("replaced", slot.spec.name, seconds=round(took, 3),
                           old_pid=old_pid, pid=slot.process.pid)
                return True
            if not slot.replacing.alive():
                log.error("replacement of %s exited with %s; retrying",
                          slot.spec.name, slot.replacing.exit_code())
                slot.replacing.stop(grace_s=0.5)
                slot.replacing = None
            return False
        if slot.process.alive():
            return False
        if slot.died_at is None:
            slot.died_at = now
            code = slot.process.exit_code()
            log.warning("replica %s (pid %s) died with exit code %s",
                        slot.spec.name, slot.process.pid, code)
            self.event("died", slot.spec.name, pid=slot.process.pid, exit_code=code)
            if not group.restart:
                self.fatal = f"{slot.spec.name} died (exit code {code}); the stack cannot go on"
                log.error(self.fatal)
                self._stopping.set()
            return True
        if held_until > now:
            return False
        if now - slot.died_at >= self.replace_delay_s:
            replacement = ManagedProcess(slot.spec)
            try:
                replacement.start()
            except OSError:
                log.exception("could not start a replacement for %s", slot.spec.name)
                return False
            slot.replacing = replacement
            self.event("replacing", slot.spec.name, pid=replacement.pid)
        return False

    # -- events -----------------------------------------------------------------------------
    def event(self, kind: str, process: str, **data: Any) -> None:
        record = {"ts": round(time.time(), 3), "kind": kind, "process": process, **data}
        self._events_path.parent.mkdir(parents=True, exist_ok=True)
        with self._events_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")

    # -- stopping ---------------------------------------------------------------------------
    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    def stop_all(self) -> None:
        """Stop every process, last started first."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for group in reversed(self.groups):
            for slot in group.slots:
                for proc in (slot.replacing, slot.process):
                    if proc is not None:
                        proc.stop()
            self.event("stopped", group.name)

    def describe(self) -> dict[str, Any]:
        """Groups, slots, pids and ports, for the state file."""
        out: dict[str, Any] = {}
        for group in self.groups:
            out[group.name] = {
                "restart": group.restart,
                "replicas": [
                    {
                        "name": slot.spec.name,
                        "index": slot.index,
                        "pid": slot.process.pid if slot.process.alive() else None,
                        "port": slot.spec.port,
                        "alive": slot.process.alive(),
                        "log": str(slot.spec.log_path),
                    }
                    for slot in group.slots
                ],
            }
        return out


def read_events(state_dir: Path) -> list[dict[str, Any]]:
    """The events `Supervisor.event` wrote to `<state_dir>/events.jsonl`, oldest first; a line
    being written right now (not yet valid JSON) is skipped."""
    try:
        lines = (state_dir / "events.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    out: list[dict[str, Any]] = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def pid_alive(pid: int | None) -> bool:
    """True when `pid` names a running process (not a zombie): how a replica the state file
    names is seen from outside the supervisor (the chaos probes, kill-replica's verify)."""
    if not pid:
        return False
    import psutil  # only the outside readers need it; the supervisor itself does not

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
