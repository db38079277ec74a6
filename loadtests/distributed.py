"""Distributed runs (`--processes N`, or `--master` with `--worker`s): every request counted once,
on the master, before it judges.

Locust sums the workers' statistics on the master from their reports (every 3 s) and our
counters ride along (loadtests.counters). What Locust leaves open, and this module adds, with
its events and custom messages only:

* the final reports. When a headless run ends, the master sends `quit` and waits half a second
  for the workers' last reports, then stops listening: on a busy machine the last seconds of a
  worker's requests arrive too late, and the gates and the summary miss them. `flush()`, called
  on the master at test stop, asks every worker (custom message `gameday_flush`) to stop its
  users and send its report at once, and waits for each (at most FLUSH_TIMEOUT_S);
* each worker's own count. A worker counts the requests it made (the `request` event, the
  same one Locust's statistics listen to) and its counters, over the whole test, and writes
  them to `<summary>.worker-<index>.json` next to the master's `--json-summary` when it quits;
  the master's summary lists what it received from each worker (`workers`). The two must agree,
  and tests/loadtests check that they do.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import gevent
from locust.runners import (
    STATE_MISSING,
    STATE_RUNNING,
    STATE_SPAWNING,
    MasterRunner,
    WorkerRunner,
)

from loadtests.counters import REPORT_KEY, Counters
from loadtests.summary import write_summary

log = logging.getLogger("loadtests.distributed")

FLUSH_MESSAGE = "gameday_flush"
FINAL_KEY = "gameday_final"
FLUSH_TIMEOUT_S = 10.0
_ATTR = "_gameday_distributed"


class WorkerTally:
    """A worker's own count of what it did in this test."""

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.counters = Counters()

    def on_request(self, exception: Any = None, **_kw: Any) -> None:
        self.requests += 1
        if exception:
            self.failures += 1

    def to_dict(self, index: int, client_id: str) -> dict[str, Any]:
        return {"worker_index": index, "client_id": client_id, "requests": self.requests,
                "failures": self.failures,
                "counters": {metric: data["total"]
                             for metric, data in self.counters.snapshot().items()}}


class MasterTally:
    """What the master received from each worker in this test, and whose final report came."""

    def __init__(self) -> None:
        self.received: dict[str, dict[str, int]] = {}
        self.final: set[str] = set()

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        total = data.get("stats_total") or {}
        mine = self.received.setdefault(client_id, {"requests": 0, "failures": 0})
        mine["requests"] += int(total.get("num_requests", 0))
        mine["failures"] += int(total.get("num_failures", 0))
        if data.get(FINAL_KEY):
            self.final.add(client_id)


def worker_file(summary: Path, index: int) -> Path:
    """Where worker `index` writes its own count: `summary.worker-<index>.json`."""
    return summary.with_name(f"{summary.stem}.worker-{index}{summary.suffix}")


def install(environment: Any, summary: Path | None) -> None:
    """Wire the worker or master side; nothing on a local (single process) runner."""
    runner = environment.runner
    events = environment.events
    if isinstance(runner, WorkerRunner):
        tally = WorkerTally()
        setattr(environment, _ATTR, tally)

        def on_test_start(**_kw: Any) -> None:
            nonlocal tally
            tally = WorkerTally()
            setattr(environment, _ATTR, tally)

        def on_report_to_master(data: dict[str, Any], **_kw: Any) -> None:
            # registered after the counters' listener, which moved its counts into data
            tally.counters.merge(data.get(REPORT_KEY) or {})

        def on_flush(environment: Any, msg: Any, **_kw: Any) -> None:
            if runner.state in (STATE_RUNNING, STATE_SPAWNING):
                runner.stop()
            data: dict[str, Any] = {}
            events.report_to_master.fire(client_id=runner.client_id, data=data)
            data[FINAL_KEY] = True
            runner.send_message("stats", data)  # Locust's own report message, sent now

        def on_quitting(**_kw: Any) -> None:
            if summary is not None:
                path = write_summary(worker_file(summary, runner.worker_index),
                                     tally.to_dict(runner.worker_index, runner.client_id))
                log.info("worker %d: %d requests; written to %s", runner.worker_index,
                         tally.requests, path)

        events.test_start.add_listener(on_test_start)
        events.request.add_listener(lambda **kw: tally.on_request(**kw))
        events.report_to_master.add_listener(on_report_to_master)
        events.quitting.add_listener(on_quitting)
        runner.register_message(FLUSH_MESSAGE, on_flush)
    elif isinstance(runner, MasterRunner):
        master = MasterTally()
        setattr(environment, _ATTR, master)

        def on_master_test_start(**_kw: Any) -> None:
            master.received.clear()
            master.final.clear()

        events.test_start.add_listener(on_master_test_start)
        events.worker_report.add_listener(master.on_worker_report)


def _live(runner: MasterRunner) -> set[str]:
    return {client.id for client in runner.clients.all if client.state != STATE_MISSING}


def flush(environment: Any, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
    """On a master: have every worker stop and report now; wait for each report."""
    runner = environment.runner
    master = getattr(environment, _ATTR, None)
    if not isinstance(runner, MasterRunner) or not isinstance(master, MasterTally):
        return
    expected = _live(runner)
    if not expected:
        return
    runner.send_message(FLUSH_MESSAGE)
    deadline = time.monotonic() + timeout_s
    while not expected <= master.final and time.monotonic() < deadline:
        expected &= _live(runner)  # a worker may have quit or gone missing
        gevent.sleep(0.05)
    missing = expected - master.final
    if missing:
        log.warning("no final report within %g s from %d worker(s): the last seconds of "
                    "their requests may be missing", timeout_s, len(missing))


def worker_totals(environment: Any) -> list[dict[str, Any]] | None:
    """On a master: what each worker reported ({worker_index, requests, failures}), else None."""
    runner = environment.runner
    master = getattr(environment, _ATTR, None)
    if not isinstance(runner, MasterRunner) or not isinstance(master, MasterTally):
        return None
    rows = [{"worker_index": runner.get_worker_index(client_id), "client_id": client_id,
             **counts, "final_report": client_id in master.final}
            for client_id, counts in master.received.items()]
    return sorted(rows, key=lambda row: row["worker_index"])
