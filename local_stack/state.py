"""The state file of a running local stack: URLs, ports, pids, tokens.

`gameday up` writes it (atomically: temp file + rename) and keeps it current when replicas are
replaced; every other subcommand reads it to find the stack. One JSON document, documented in
README.md.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATE_FILE_NAME = "state.json"


class StackNotRunning(RuntimeError):
    """No state file: there is no stack to talk to."""


def default_state_dir() -> Path:
    """`$GAMEDAY_STATE_DIR`, else `./.gameday`."""
    return Path(os.environ.get("GAMEDAY_STATE_DIR", ".gameday")).resolve()


def state_path(state_dir: Path | None = None) -> Path:
    return (state_dir or default_state_dir()) / STATE_FILE_NAME


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_state(data: dict[str, Any], state_dir: Path | None = None) -> Path:
    path = state_path(state_dir)
    write_json_atomic(path, data)
    return path


def read_state(state_dir: Path | None = None) -> dict[str, Any]:
    """The running stack's state; StackNotRunning with a hint when there is none."""
    path = state_path(state_dir)
    try:
        with path.open() as fh:
            data = json.load(fh)
    except FileNotFoundError as exc:
        raise StackNotRunning(
            f"no running stack: {path} does not exist (start one with `gameday up`)"
        ) from exc
    except json.JSONDecodeError as exc:
        raise StackNotRunning(f"{path} is not valid JSON ({exc}); remove it and rerun") from exc
    if not isinstance(data, dict) or "urls" not in data:
        raise StackNotRunning(f"{path} is not a gameday state file")
    return data
