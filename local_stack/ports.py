"""Loopback ports: pick free ones, wait until one answers, tell whether one is still bound.

A free port is picked *below* the kernel's ephemeral range, not by binding port 0: a port from
that range can be taken, between the pick and the bind of the process it is meant for, by any
process that binds port 0 (a metrics server, another test's pick) or opens an outbound
connection — seen in CI as a storefront whose payments URL answered from someone's /metrics
server. Nothing takes a port below the range without asking for it by number.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from pathlib import Path

from reference_app.loopback import DESCRIPTION, is_loopback_host

LOOPBACK = "127.0.0.1"
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PICK_SPAN = 12000  # pick from [low - PICK_SPAN, low) where low starts the ephemeral range

_rng = random.SystemRandom()
_handed_out: set[int] = set()
_lock = threading.Lock()


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def bindable(port: int, host: str = LOOPBACK, kind: int = socket.SOCK_STREAM) -> bool:
    """True when a socket of `kind` (SOCK_STREAM: TCP, SOCK_DGRAM: UDP) can bind host:port,
    i.e. nothing holds it."""
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK) -> int:
    """A port that was free a moment ago, below the ephemeral range, never handed out twice by
    this process; falls back to the kernel's pick (bind to port 0) if none is found."""
    high = _ephemeral_low()
    low = max(1024, high - PICK_SPAN)
    with _lock:
        for _ in range(200):
            port = _rng.randrange(low, high)
            if port not in _handed_out and bindable(port, host):
                _handed_out.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_port_bound(port: int, host: str = LOOPBACK) -> bool:
    """True when something listens on host:port (a connect succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout_s: float, host: str = LOOPBACK) -> None:
    """Block until host:port accepts connections; TimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_port_bound(port, host):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")


def check_loopback(host: str | None) -> None:
    """Raise ValueError unless host is loopback (reference_app.loopback decides)."""
    if not is_loopback_host(host):
        raise ValueError(f"{host!r} is outside {DESCRIPTION}; refusing to bind or target it")
