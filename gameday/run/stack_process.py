"""The local stack as a child process: `python -m gameday up --port-base 0 --state-dir DIR`.

A child process rather than `LocalStack` in this process: the supervisor, its replicas and its
chores keep their own interpreter (no GIL shared with the experiments' samplers and load
threads), and the stack stops exactly as `gameday up` stops on SIGTERM. The child runs in its
own session (a terminal Ctrl-C reaches only the game day, which then stops things in order)
and dies with the game day even on SIGKILL (PR_SET_PDEATHSIG), as do its own children.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

from local_stack.state import StackNotRunning, read_state
from local_stack.supervisor import die_with_parent, read_events

log = logging.getLogger("gameday.run.stack")


class StackFailed(RuntimeError):
    """The stack did not start; the message ends with the tail of its log."""


@dataclass
class StackSnapshot:
    """What the state file said while the stack ran, without its secrets: URLs, every port
    (to check they are free afterwards), every pid and the breaker settings."""

    urls: dict[str, str] = field(default_factory=dict)
    tcp_ports: list[int] = field(default_factory=list)
    udp_ports: list[int] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    ready_after_s: float | None = None
    replicas: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StackSnapshot:
        urls = {k: v for k, v in (state.get("urls") or {}).items() if isinstance(v, str)}
        tcp: set[int] = set()
        udp: set[int] = set()
        for url in urls.values():
            port = _port_of(url)
            if port:
                (udp if url.startswith("udp://") else tcp).add(port)
        pids: list[int] = []
        replicas: dict[str, int] = {}
        for name, group in (state.get("services") or {}).items():
            replicas[name] = len(group.get("replicas", []))
            for replica in group.get("replicas", []):
                if replica.get("port"):
                    tcp.add(int(replica["port"]))
                if replica.get("pid"):
                    pids.append(int(replica["pid"]))
        if state.get("supervisor_pid"):
            pids.append(int(state["supervisor_pid"]))
        return cls(urls=urls, tcp_ports=sorted(tcp), udp_ports=sorted(udp), pids=pids,
                   ready_after_s=state.get("ready_after_s"), replicas=replicas)

    def to_dict(self) -> dict[str, Any]:
        return {"urls": self.urls, "tcp_ports": self.tcp_ports, "udp_ports": self.udp_ports,
                "pids": self.pids, "ready_after_s": self.ready_after_s,
                "replicas": self.replicas}


def _port_of(url: str) -> int | None:
    try:
        rest = url.split("://", 1)[1]
        return int(rest.split("/", 1)[0].rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


class StackProcess:
    """Start, watch and stop one `gameday up` child."""

    def __init__(self, state_dir: Path, log_path: Path, seed: int, products: int,
                 no_breaker: bool = False) -> None:
        self.state_dir = state_dir
        self.log_path = log_path
        self.argv = [sys.executable, "-m", "gameday", "up", "--port-base", "0",
                     "--state-dir", str(state_dir), "--seed", str(seed),
                     "--products", str(products)]
        if no_breaker:
            self.argv.append("--no-breaker")
        self.proc: subprocess.Popen[bytes] | None = None
        self.state: dict[str, Any] = {}
        self.snapshot = StackSnapshot()
        self.tree: dict[int, psutil.Process] = {}  # every process of the stack ever seen
        self.first_served_at: float | None = None  # epoch of the storefront's first 200

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 120.0, stop: threading.Event | None = None
              ) -> dict[str, Any]:
        """Start the stack and wait for its state file to say ready; StackFailed otherwise."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
                self.argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.info("gameday up started (pid %s): %s", self.proc.pid, " ".join(self.argv))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if stop is not None and stop.is_set():
                raise StackFailed("interrupted while the stack was starting")
            if self.proc.poll() is not None:
                raise StackFailed(f"`gameday up` exited with code {self.proc.returncode} "
                                  f"before it was ready:\n{self.log_tail()}")
            try:
                state = read_state(self.state_dir)
            except StackNotRunning:
                state = {}
            if self.first_served_at is None:
                self._try_first_request()
            if "ready_after_s" in state:
                self.state = state
                self.snapshot = StackSnapshot.from_state(state)
                self.remember_tree()
                return state
            time.sleep(0.2)
        raise StackFailed(f"the stack was not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def _try_first_request(self) -> None:
        """As soon as a storefront replica has started (the supervisor's event names its own
        port), ask it for the catalog: the shop serves before the rest of the stack (stream
        runtime, alarm evaluator) is up."""
        started = [event for event in read_events(self.state_dir)
                   if event.get("kind") == "started" and event.get("port")
                   and str(event.get("process", "")).startswith("storefront")]
        if not started:
            return
        try:
            port = int(started[0]["port"])
        except ValueError:
            return
        try:
            resp = requests.get(f"http://127.0.0.1:{port}/v1/products",
                                params={"q": "a", "limit": 1}, timeout=2)
        except requests.RequestException:
            return
        if resp.status_code == 200:
            self.first_served_at = time.time()
            log.info("first request served by the storefront (port %s)", port)

    def refresh(self) -> None:
        """Re-read the state file (replaced replicas have new pids and the same ports)."""
        try:
            state = read_state(self.state_dir)
        except StackNotRunning:
            return
        fresh = StackSnapshot.from_state(state)
        self.snapshot.pids = sorted(set(self.snapshot.pids) | set(fresh.pids))
        self.snapshot.tcp_ports = sorted(set(self.snapshot.tcp_ports) | set(fresh.tcp_ports))
        self.remember_tree()

    def remember_tree(self) -> None:
        """Note every live process under `gameday up` (their own sessions included)."""
        if not self.running():
            return
        try:
            root = psutil.Process(self.proc.pid)  # type: ignore[union-attr]
            for proc in [root, *root.children(recursive=True)]:
                self.tree.setdefault(proc.pid, proc)
        except psutil.NoSuchProcess:
            pass

    def stop(self, timeout_s: float = 45.0) -> list[str]:
        """SIGTERM `gameday up` (it stops its children in order), wait, then SIGKILL whatever
        of its tree is left. Returns what had to be killed."""
        killed: list[str] = []
        if self.proc is None:
            return killed
        self.remember_tree()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("gameday up still running after %.0f s; killing it", timeout_s)
                self.proc.kill()
                self.proc.wait(timeout=10)
                killed.append(f"gameday up (pid {self.proc.pid})")
        deadline = time.monotonic() + 10
        for pid, proc in self.tree.items():
            if pid == self.proc.pid:
                continue
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except psutil.TimeoutExpired:
                try:
                    name = " ".join(proc.cmdline()[-4:])
                    proc.kill()
                    killed.append(f"pid {pid} ({name})")
                except psutil.NoSuchProcess:
                    pass
            except psutil.NoSuchProcess:
                pass
        return killed

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"
