"""Ends each fault of a run at its planned time (a timer thread), and all of them at once on
abort or rollback. Ending = undo through the injector (ledger updated)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from chaos.faults.injector import Injector, UndoOutcome
from chaos.probes.env import FaultWindow

log = logging.getLogger("chaos.runner.scheduler")


class FaultScheduler:
    def __init__(self, injector: Injector,
                 on_end: Callable[[FaultWindow, UndoOutcome], None] | None = None) -> None:
        self.injector = injector
        self.on_end = on_end
        self.windows: list[FaultWindow] = []
        self._cond = threading.Condition()
        self._closed = False
        self._ending: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="chaos-fault-timer", daemon=True)
        self._thread.start()

    def add(self, window: FaultWindow) -> None:
        with self._cond:
            self.windows.append(window)
            self._cond.notify_all()

    def open_windows(self) -> list[FaultWindow]:
        with self._cond:
            return [w for w in self.windows if w.end is None]

    def _end(self, window: FaultWindow) -> None:
        with self._cond:
            if window.end is not None or window.fault_id in self._ending:
                return
            self._ending.add(window.fault_id)
        outcome = self.injector.undo(window.fault_id, by_owner=True)
        with self._cond:
            if window.end is None:
                window.end = time.time()
            self._cond.notify_all()
        log.info("fault %s ended: %s", window.fault_id, outcome.detail)
        if self.on_end is not None:
            self.on_end(window, outcome)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                due = [w for w in self.windows if w.end is None and w.planned_end is not None
                       and w.planned_end <= time.time() and w.fault_id not in self._ending]
                if not due:
                    pending = [w.planned_end for w in self.windows
                               if w.end is None and w.planned_end is not None
                               and w.fault_id not in self._ending]
                    timeout = (min(pending) - time.time()) if pending else 1.0
                    self._cond.wait(max(0.01, min(timeout, 1.0)))
                    continue
            for window in due:
                try:
                    self._end(window)
                except Exception:  # noqa: BLE001 - keep ending the others
                    log.exception("ending fault %s failed", window.fault_id)
                    with self._cond:
                        window.end = window.end or time.time()

    def wait_all(self, timeout_s: float, stop: threading.Event | None = None) -> bool:
        """True when every fault has ended within timeout_s (a control's protection switches
        are not waited for: they stay until the rollback)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while any(w.end is None and w.role == "fault" for w in self.windows):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (stop is not None and stop.is_set()):
                    return False
                self._cond.wait(min(remaining, 0.2))
        return True

    def end_all(self) -> None:
        """End every open fault now (abort, rollback, interrupt)."""
        for window in self.open_windows():
            try:
                self._end(window)
            except Exception:  # noqa: BLE001
                log.exception("ending fault %s failed", window.fault_id)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
