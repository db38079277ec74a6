"""The ledger: write-ahead entries, atomic writes under concurrency, corrupt files refused."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from chaos.ledger import ACTIVE, UNDONE, Entry, Ledger, LedgerCorrupt, new_fault_id


def _entry(name: str = "lambda-error", ttl: float = 30.0) -> Entry:
    now = time.time()
    return Entry(fault_id=new_fault_id(name), name=name, targets=["t"], params={},
                 started_at=now, expires_at=now + ttl)


def test_add_update_and_read_back(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    entry = _entry()
    ledger.add(entry)
    assert [e.fault_id for e in ledger.active()] == [entry.fault_id]
    ledger.update(entry.fault_id, status=UNDONE, note="done")
    assert ledger.active() == []
    again = ledger.get(entry.fault_id)
    assert again is not None and again.status == UNDONE and again.note == "done"
    with pytest.raises(ValueError):
        ledger.add(again)
    with pytest.raises(KeyError):
        ledger.update("nope", status=UNDONE)


def test_concurrent_writers_lose_nothing_and_leave_no_temp_files(tmp_path: Path) -> None:
    def writer() -> None:
        for _ in range(15):
            Ledger(tmp_path).add(_entry())

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = Ledger(tmp_path).entries()
    assert len(entries) == 60
    assert len({e.fault_id for e in entries}) == 60
    assert all(e.status == ACTIVE for e in entries)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ledger-")]
    json.loads((tmp_path / "ledger.json").read_text())


def test_a_failed_write_keeps_the_old_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    ledger = Ledger(tmp_path)
    ledger.add(_entry())
    before = (tmp_path / "ledger.json").read_text()

    def broken_dump(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("chaos.ledger.json.dump", broken_dump)
    with pytest.raises(OSError):
        ledger.add(_entry())
    assert (tmp_path / "ledger.json").read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ledger-")]


def test_corrupt_ledger_is_an_error_not_empty(tmp_path: Path) -> None:
    (tmp_path / "ledger.json").write_text("{not json")
    with pytest.raises(LedgerCorrupt):
        Ledger(tmp_path).entries()


def test_expiry() -> None:
    entry = _entry(ttl=-1)
    assert entry.is_expired()
    assert _entry(ttl=10).time_left() > 9
