"""Pieces of the load tests that must import without Locust.

Importing Locust monkey-patches the whole process with gevent, which breaks a process that has
already imported ssl/urllib3 (RecursionError) and would turn `gameday up`'s threads and
subprocesses into greenlets. The `gameday` CLI therefore uses only this module; the duration
parser is ours rather than locust.util.timespan for that reason, and accepts the same forms.
Those who start Locust as a child (`gameday load`, the game day, the chaos runner's Locust load)
take the shipped locustfile's path and the child's environment from here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SHAPES = ("none", "steady", "step", "spike", "november", "soak", "capacity")

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def locustfile_path() -> Path:
    """The locustfile of the installed loadtests package."""
    return LOCUSTFILE


def locust_env() -> dict[str, str]:
    """The environment of a Locust child: ours without LOCUST_SKIP_MONKEY_PATCH (Locust needs
    gevent's patches to run load), the installed packages' root first on PYTHONPATH."""
    env = dict(os.environ)
    env.pop("LOCUST_SKIP_MONKEY_PATCH", None)
    package_root = str(LOCUSTFILE.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env

_SPAN = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s?)?$")


def parse_timespan(text: str) -> int:
    """`30`, `30s`, `2m`, `1h30m20s` -> seconds; ValueError otherwise."""
    text = text.strip().lower()
    match = _SPAN.match(text)
    if not text or match is None or not any(match.groupdict().values()):
        raise ValueError(f"{text!r} is not a time span")
    parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    return parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
