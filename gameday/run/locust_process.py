"""The shipped Locust journeys (loadtests/locustfile.py) as a child process.

Headless for the whole game day (`--csv`, `--html`, `--json-summary` into the report's `load/`
directory; SIGINT at the end makes Locust write them), or, with `--keep`, its web UI on a free
loopback port afterwards. Never imported here: Locust's gevent monkey-patching would break
this process's threads.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from loadtests.locust_free import locust_env, locustfile_path
from loadtests.pacing import LoadMix
from local_stack.supervisor import die_with_parent

log = logging.getLogger("gameday.run.locust")

# between two actions of one user; short, as the request slots space the requests
THINK_TIME = "0:0.1"


def locust_argv(host: str, mix: LoadMix, seed: int, state_dir: Path, out_dir: Path | None,
                web_port: int | None = None, run_time_s: int | None = None,
                allow_remote: bool = False) -> list[str]:
    """The Locust command line: headless into `out_dir`, or the web UI on `web_port`; paced
    to the mix's rates with its users (the pacer, not the think time, spaces the requests);
    `allow_remote` for a host outside loopback (the aws target's ALB, in an allowed account)."""
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile_path()), "--host", host,
            "-u", str(mix.users), "-r", str(mix.users), "--seed", str(seed),
            "--state-dir", str(state_dir), "--rate", f"{mix.rate:g}",
            "--checkout-rate", f"{mix.checkout_rate:g}", "--buyers", str(mix.buyers),
            "--think-time", THINK_TIME]
    if allow_remote:
        argv.append("--allow-remote")
    if web_port is not None:
        argv += ["--web-host", "127.0.0.1", "--web-port", str(web_port)]
    else:
        argv += ["--headless", "--only-summary"]
        if run_time_s:
            argv += ["-t", f"{int(run_time_s)}s"]  # a safety net: it is stopped long before
    if out_dir is not None:
        argv += ["--csv", str(out_dir / "locust"), "--html", str(out_dir / "report.html"),
                 "--json-summary", str(out_dir / "summary.json")]
    return argv


class LocustProcess:
    """One Locust child in its own session; `stop()` lets it write its reports."""

    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, our interpreter
                self.argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent, env=locust_env())
        log.info("locust started (pid %s): %s", self.proc.pid, " ".join(self.argv))

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGINT (Locust writes its CSV, HTML and JSON summary), then SIGKILL if it hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("locust did not stop within %.0f s; killing it", timeout_s)
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""


def summarize(out_dir: Path) -> dict[str, Any]:
    """The Locust totals and the files ({label: name relative to `out_dir`}), from what it
    wrote into `out_dir`."""
    info: dict[str, Any] = {"files": {}}
    for kind, name in (("Locust's HTML report", "report.html"),
                       ("JSON summary", "summary.json"),
                       ("stats CSV", "locust_stats.csv"),
                       ("per-second history CSV", "locust_stats_history.csv"),
                       ("failures CSV", "locust_failures.csv"),
                       ("exceptions CSV", "locust_exceptions.csv"), ("log", "locust.log")):
        if (out_dir / name).exists():
            info["files"][kind] = name
    try:
        data = json.loads((out_dir / "summary.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return info
    info["total"] = data.get("total")
    info["routes"] = data.get("routes", [])
    info["errors"] = data.get("errors", [])[:10]
    info["conflicts"] = data.get("conflicts")
    info["users"] = data.get("users")
    info["duration_s"] = data.get("duration_s")
    info["pacing"] = data.get("pacing")
    return info
