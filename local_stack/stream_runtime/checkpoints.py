"""Where each (event source mapping, shard) has got to: in memory, optionally in a JSON file.

AWS keeps an ESM's checkpoints for it; a local runtime that restarts (a chaos experiment may
kill it) must not forget them, or a LATEST mapping skips what was written while it was down
and a TRIM_HORIZON mapping redelivers whatever the stream still holds. So with
``--checkpoint-file`` the store is loaded at start and rewritten atomically (write + rename) by
a background flush at most every ``flush_interval_s`` and once more at stop. Without a file the
checkpoints live as long as the process: a restart then begins again at the mapping's
StartingPosition. The local emulator reads the same file (``aws_server --stream-checkpoints``)
and never trims a stream record a mapping has not passed (``local_stack.retention.streams``).

A checkpoint is the sequence number up to which everything is done (see
``semantics.CheckpointTracker``); a shard also records when it is finished (closed and fully
processed) so its children may start. Entries name the stream ARN: a table recreated under the
same mapping UUID cannot inherit stale positions. Mapping UUIDs change when moto restarts, so
entries of a previous moto simply never match.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class CheckpointStore:
    def __init__(self, path: str | Path | None = None, flush_interval_s: float = 0.5) -> None:
        self.path = Path(path) if path else None
        self.flush_interval_s = flush_interval_s
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = {}
        self._dirty = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.path is not None and self.path.exists():
            try:
                loaded = json.loads(self.path.read_text())
                self._data = {k: v for k, v in loaded.get("shards", {}).items()
                              if isinstance(v, dict)}
                log.info("loaded %d shard checkpoints from %s", len(self._data), self.path)
            except (OSError, ValueError) as exc:
                log.error("ignoring unreadable checkpoint file %s: %s", self.path, exc)

    @staticmethod
    def _key(mapping_uuid: str, shard_id: str) -> str:
        return f"{mapping_uuid}/{shard_id}"

    def get(self, mapping_uuid: str, shard_id: str, stream_arn: str) -> int | None:
        with self._lock:
            entry = self._data.get(self._key(mapping_uuid, shard_id))
        if not entry or entry.get("stream") != stream_arn or entry.get("after") is None:
            return None
        return int(entry["after"])

    def is_finished(self, mapping_uuid: str, shard_id: str, stream_arn: str) -> bool:
        with self._lock:
            entry = self._data.get(self._key(mapping_uuid, shard_id))
        return bool(entry and entry.get("stream") == stream_arn and entry.get("finished"))

    def set(self, mapping_uuid: str, shard_id: str, stream_arn: str, after: int | None,
            finished: bool = False) -> None:
        key = self._key(mapping_uuid, shard_id)
        entry = {"stream": stream_arn, "after": None if after is None else str(after),
                 "finished": finished}
        with self._lock:
            if self._data.get(key) != entry:
                self._data[key] = entry
                self._dirty = True

    def forget_mapping(self, mapping_uuid: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k.startswith(mapping_uuid + "/")]:
                del self._data[key]
                self._dirty = True

    def start(self) -> None:
        if self.path is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="checkpoint-flush",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            self.flush()

    def flush(self) -> None:
        if self.path is None:
            return
        with self._lock:
            if not self._dirty:
                return
            snapshot = {"version": 1, "shards": dict(self._data)}
            self._dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            tmp.write_text(json.dumps(snapshot, indent=1, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError as exc:
            with self._lock:
                self._dirty = True
            log.error("could not write checkpoints to %s: %s", self.path, exc)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()
