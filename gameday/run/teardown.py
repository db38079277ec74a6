"""The end of a game day: every fault undone (what `gameday chaos cleanup` does), and the proof
that nothing is left behind — no child process of the game day, no process of the stack, no
port of the stack still bound."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import psutil

from gameday.run.stack_process import StackSnapshot
from local_stack.ports import bindable, is_port_bound

log = logging.getLogger("gameday.run.teardown")


def undo_faults(state_dir: Path) -> list[str]:
    """Undo every fault the ledger still holds (idempotent); lines saying what was done."""
    from chaos.context import ChaosContext
    from chaos.faults.injector import Injector
    from chaos.ledger import Ledger

    ledger = Ledger(state_dir)
    if not ledger.exists():
        return []
    ctx = ChaosContext.load(state_dir, require_stack=False)
    report = Injector(ctx, ledger).cleanup()
    lines = [f"undid {o.fault_id}: {o.detail}" for o in report.undone]
    lines += list(report.strays)
    lines += [f"FAILED to undo {o.fault_id}: {o.detail}" for o in report.failed]
    return lines


def active_faults(state_dir: Path) -> list[str]:
    """Fault ids the ledger says are still active."""
    from chaos.ledger import Ledger

    ledger = Ledger(state_dir)
    return [e.fault_id for e in ledger.active()] if ledger.exists() else []


def leftovers(snapshot: StackSnapshot, extra_ports: list[int] | None = None) -> list[str]:
    """What is still running or bound: children of this process, the stack's processes, its
    TCP/UDP ports and `extra_ports` (e.g. the Locust web UI)."""
    found: list[str] = []
    me = psutil.Process(os.getpid())
    for child in me.children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            found.append(f"child process {child.pid}: {' '.join(child.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    for stack_pid in snapshot.pids:
        try:
            proc = psutil.Process(stack_pid)
            if proc.status() != psutil.STATUS_ZOMBIE and stack_pid != me.pid:
                cmd = " ".join(proc.cmdline())
                if "local_stack" in cmd or "gameday" in cmd or "redis" in cmd:
                    found.append(f"stack process {stack_pid}: {cmd[:120]}")
        except psutil.NoSuchProcess:
            continue
    for port in sorted(set(snapshot.tcp_ports) | set(extra_ports or [])):
        if is_port_bound(port):
            found.append(f"TCP port {port} still bound")
    for port in snapshot.udp_ports:
        if not bindable(port, kind=socket.SOCK_DGRAM):
            found.append(f"UDP port {port} still bound")
    return sorted(set(found))
