"""The default experiments, one YAML file each (validated by chaos/spec, run by chaos/runner).
Every file also defines its negative control (`control:`), which must FAIL."""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent


def default_experiments() -> list[Path]:
    return sorted(DIRECTORY.glob("*.yaml"))
