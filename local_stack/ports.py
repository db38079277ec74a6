"""Loopback ports: pick free ones, wait until one answers, tell whether one is still bound."""

from __future__ import annotations

import socket
import time

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port that was free a moment ago (bind to port 0, read it, release it)."""
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


def check_loopback(host: str) -> None:
    """Raise ValueError unless host is a loopback address (127.0.0.0/8 or localhost)."""
    if host == "localhost":
        return
    try:
        packed = socket.inet_aton(host)
    except OSError as exc:
        raise ValueError(f"{host!r} is not an IPv4 address") from exc
    if packed[0] != 127:
        raise ValueError(f"{host} is outside loopback (127.0.0.0/8); refusing to bind or target it")
