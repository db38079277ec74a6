"""Where a CloudWatch Logs group lives on disk locally: one append-only file per group.

The stream runtime writes each function's output (its "log stream") to the file of the
function's group, ``/aws/lambda/<name>``, as Lambda sends it to CloudWatch Logs; the alarm
evaluator's Contributor Insights rules (``local_stack.insight_rules``) read the same files.
moto has a CloudWatch Logs API, but shipping every handler line into it would keep them all in
the emulator's memory forever and cost an HTTP call per line under load; files cost neither.

``/aws/lambda/shop-inventory`` -> ``<log_dir>/aws/lambda/shop-inventory.log``.
"""

from __future__ import annotations

from pathlib import Path

SUFFIX = ".log"


def log_group_path(log_dir: str | Path, group: str) -> Path:
    """The file of log group `group` under `log_dir` (ValueError for a name that would leave
    it)."""
    parts = [p for p in group.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"not a log group name: {group!r}")
    return Path(log_dir).joinpath(*parts[:-1], parts[-1] + SUFFIX)


def log_groups(log_dir: str | Path) -> dict[str, Path]:
    """Every log group that has a file under `log_dir`: name -> file."""
    root = Path(log_dir)
    if not root.is_dir():
        return {}
    return {"/" + str(path.relative_to(root))[: -len(SUFFIX)]: path
            for path in sorted(root.rglob(f"*{SUFFIX}"))}
