"""Stop conditions: guard probes checked in the background while the method runs. A breach
(the guard's tolerance does not hold) sets the abort event: the method stops, faults are
rolled back, the run is `aborted`. A guard whose probe has no value yet (None) is skipped."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from chaos.probes.catalog import PROBES
from chaos.probes.env import ProbeEnv
from chaos.variables import substitute
from chaos.verdicts import describe_tolerance, dig, judge

log = logging.getLogger("chaos.runner.guards")


class Guards:
    def __init__(self, env: ProbeEnv, guards: list[dict[str, Any]], interval_s: float,
                 abort: threading.Event) -> None:
        self.env = env
        self.guards = guards
        self.interval_s = interval_s
        self.abort = abort
        self.checks = 0
        self.breaches: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.guards:
            return
        self._thread = threading.Thread(target=self._run, name="chaos-guards", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def check_once(self) -> dict[str, Any] | None:
        """The first breach found in one pass, or None."""
        for guard in self.guards:
            probe = PROBES.get(guard["probe"])
            started = time.time()
            try:
                value = probe.fn(self.env, substitute(guard.get("params") or {}, self.env.vars))
            except Exception as exc:  # noqa: BLE001 - an unreadable guard is not a breach
                log.debug("guard %s could not read: %s", guard["name"], exc)
                continue
            self.checks += 1
            tolerance = guard.get("tolerance")
            if dig(value, (tolerance or {}).get("path")) is None:
                continue
            if not judge(value, tolerance):
                return {"name": guard["name"], "probe": guard["probe"], "at": started,
                        "observed": value, "expected": describe_tolerance(tolerance or {})}
        return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            breach = self.check_once()
            if breach is not None:
                log.error("stop condition %s breached: observed %r, expected %s; aborting",
                          breach["name"], breach["observed"], breach["expected"])
                self.breaches.append(breach)
                self.abort.set()
                return
