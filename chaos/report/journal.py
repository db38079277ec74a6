"""The run journal, shaped like Chaos Toolkit's: every activity (probe, action, fault, pause)
with start/end/duration/status/output, the steady state before and after, rollbacks, plus this
harness's faults, numbers and verdicts. Written as `journal.json`."""

from __future__ import annotations

import json
import platform
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOURNAL_VERSION = "gameday-chaos/1"


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC).isoformat()


class Activity:
    """Times one activity; `finish()` records it in the journal section it belongs to."""

    def __init__(self, journal: Journal, section: str, spec: dict[str, Any]) -> None:
        self.journal = journal
        self.section = section
        self.spec = spec
        self.start = time.time()

    def finish(self, status: str, output: Any = None, **extra: Any) -> dict[str, Any]:
        end = time.time()
        record = {
            "activity": self.spec, "status": status, "output": output,
            "start": iso(self.start), "end": iso(end), "duration": round(end - self.start, 3),
            "start_ts": self.start, "end_ts": end, **extra,
        }
        self.journal.append(self.section, record)
        return record


class Journal:
    def __init__(self, run_id: str, experiment: dict[str, Any], variant: str, seed: int
                 ) -> None:
        self._lock = threading.Lock()
        self.data: dict[str, Any] = {
            "journal-version": JOURNAL_VERSION,
            "run_id": run_id,
            "platform": platform.platform(),
            "node": platform.node(),
            "experiment": experiment,
            "variant": variant,
            "seed": seed,
            "start": iso(time.time()),
            "start_ts": time.time(),
            "status": "running",
            "deviated": False,
            "steady_states": {"before": None, "after": None, "during": []},
            "run": [],
            "rollbacks": [],
            "faults": [],
            "numbers": {},
            "verdicts": [],
        }

    def activity(self, section: str, spec: dict[str, Any]) -> Activity:
        return Activity(self, section, spec)

    def append(self, section: str, record: dict[str, Any]) -> None:
        with self._lock:
            if section in ("before", "after"):
                state = self.data["steady_states"][section] or {"probes": []}
                state["probes"].append(record)
                self.data["steady_states"][section] = state
            elif section == "during":
                self.data["steady_states"]["during"].append(record)
            else:
                self.data[section].append(record)

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self.data[key] = value

    def steady_state_met(self, section: str, met: bool) -> None:
        with self._lock:
            state = self.data["steady_states"][section] or {"probes": []}
            state["steady_state_met"] = met
            self.data["steady_states"][section] = state

    def finish(self, status: str) -> None:
        end = time.time()
        with self._lock:
            self.data.update(status=status, end=iso(end), end_ts=end,
                             duration=round(end - self.data["start_ts"], 3))

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "journal.json"
        with self._lock:
            text = json.dumps(self.data, indent=2, default=_jsonable)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(path)
        return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | tuple):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)
