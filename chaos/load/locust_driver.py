"""Locust as the load: `locust -f FILE --headless` as a child process (its own session, killed
with the run), statistics from its `--csv` files. It keeps no per-request records and no
order ids, so the verdicts that need those say "not observed" with this driver."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from chaos.load import locust_stats
from chaos.safety import require_loopback
from loadtests.locust_free import locust_env

log = logging.getLogger("chaos.load.locust")


class LocustLoad:
    def __init__(self, storefront: str, locustfile: str, users: int, spawn_rate: float,
                 out_dir: Path, extra_args: list[str] | None = None) -> None:
        self.storefront = require_loopback(storefront, "storefront")
        self.locustfile = locustfile
        self.users = users
        self.spawn_rate = spawn_rate
        self.prefix = out_dir / "locust"
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    def start(self) -> None:
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "locust", "-f", self.locustfile, "--headless",
                "-u", str(self.users), "-r", str(self.spawn_rate), "--host", self.storefront,
                "--csv", str(self.prefix), "--csv-full-history", *self.extra_args]
        with self.prefix.with_suffix(".log").open("wb") as log_file:  # the child keeps its copy
            self.proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT,  # noqa: S603
                                         start_new_session=True, env=locust_env())
        self.started_at = time.time()

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)  # locust writes its final CSV on SIGINT
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.stopped_at = time.time()

    def placed(self) -> list[Any]:
        return []

    def summary(self) -> dict[str, Any]:
        path = Path(f"{self.prefix}_stats.csv")
        stats = locust_stats.from_csv(path) if path.exists() else {}
        return {"driver": "locust", "users": self.users, **stats}
