"""The fault ledger: `<state_dir>/ledger.json`, every fault this state dir has seen.

Each entry is written *before* the fault is injected (write-ahead, status `active`, with the
undo information already in it), so a CLI killed between injecting and recording cannot leave
an unknown fault behind. Writes are atomic (temp file + rename) and serialised between
processes with an flock on `<state_dir>/ledger.lock`; readers never lock.

Entry: {fault_id, name, targets, params, selection, seed, started_at, expires_at,
        undo: {...}, status: active|undone|expired, ended_at, note}
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.exceptions import LedgerCorrupt

log = logging.getLogger("chaos.ledger")

LEDGER_FILE = "ledger.json"
LOCK_FILE = "ledger.lock"
ACTIVE, UNDONE, EXPIRED = "active", "undone", "expired"


def new_fault_id(name: str) -> str:
    """`<name>-<UTC time>-<6 hex>`: sortable and unique enough for a ledger."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{name}-{stamp}-{uuid.uuid4().hex[:6]}"


@dataclass
class Entry:
    """One fault as the ledger records it."""

    fault_id: str
    name: str
    targets: list[str]
    params: dict[str, Any]
    started_at: float
    expires_at: float
    undo: dict[str, Any] = field(default_factory=dict)
    status: str = ACTIVE
    selection: str = "ALL"
    seed: int | None = None
    ended_at: float | None = None
    note: str = ""
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def time_left(self, now: float | None = None) -> float:
        return self.expires_at - (time.time() if now is None else now)

    def is_expired(self, now: float | None = None) -> bool:
        return self.time_left(now) <= 0


class Ledger:
    """Read and change `<state_dir>/ledger.json` safely from several processes."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / LEDGER_FILE
        self._lock_path = self.state_dir / LOCK_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def entries(self) -> list[Entry]:
        """Every entry (oldest first); an unreadable ledger is an error, never silently empty."""
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except json.JSONDecodeError as exc:
            raise LedgerCorrupt(f"{self.path} is not valid JSON: {exc}") from exc
        if not isinstance(raw, list):
            raise LedgerCorrupt(f"{self.path} must hold a JSON list")
        return [Entry.from_dict(item) for item in raw]

    def active(self) -> list[Entry]:
        return [e for e in self.entries() if e.status == ACTIVE]

    def get(self, fault_id: str) -> Entry | None:
        return next((e for e in self.entries() if e.fault_id == fault_id), None)

    @contextmanager
    def transaction(self) -> Iterator[list[Entry]]:
        """Lock, yield the entries for changing in place, write them back atomically."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries = self.entries()
                yield entries
                self._write(entries)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add(self, entry: Entry) -> None:
        with self.transaction() as entries:
            if any(e.fault_id == entry.fault_id for e in entries):
                raise ValueError(f"fault id {entry.fault_id} is already in the ledger")
            entries.append(entry)

    def update(self, fault_id: str, **changes: Any) -> Entry:
        with self.transaction() as entries:
            for entry in entries:
                if entry.fault_id == fault_id:
                    for key, value in changes.items():
                        setattr(entry, key, value)
                    return entry
        raise KeyError(fault_id)

    def _write(self, entries: list[Entry]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".ledger-", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump([e.to_dict() for e in entries], fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
