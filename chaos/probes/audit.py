"""The shop's audit, run only as a process (`python -m reference_app.audit --json`) with the
stack's environment; its JSON report is the probe's output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import AuditUnavailable

AUDIT_MODULE = "reference_app.audit"


def run_audit(ctx: ChaosContext, args: list[str] | None = None, timeout_s: float = 60.0
              ) -> dict[str, Any]:
    """The audit's JSON report plus `exit_code`; AuditUnavailable when there is no audit."""
    env = {**os.environ, **{k: str(v) for k, v in (ctx.state.get("env") or {}).items()},
           "GAMEDAY_STATE_DIR": str(ctx.state_dir)}
    argv = [sys.executable, "-m", AUDIT_MODULE, *(args if args is not None else ["--json"])]
    proc = subprocess.run(  # noqa: S603 - fixed module, our own interpreter
        argv, env=env, capture_output=True, text=True, timeout=timeout_s, check=False,
    )
    if proc.returncode != 0 and f"No module named {AUDIT_MODULE}" in proc.stderr:
        raise AuditUnavailable(f"{AUDIT_MODULE} does not exist in this checkout")
    try:
        report = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        report = {"raw": proc.stdout[-2000:]}
    if not isinstance(report, dict):
        report = {"report": report}
    report["exit_code"] = proc.returncode
    if proc.returncode != 0:
        report.setdefault("stderr", proc.stderr[-2000:])
    report.setdefault("clean", proc.returncode == 0 and _looks_clean(report))
    return report


def _looks_clean(report: dict[str, Any]) -> bool:
    for key in ("ok", "clean", "passed"):
        if isinstance(report.get(key), bool):
            return bool(report[key])
    problems = report.get("problems", report.get("violations", report.get("issues")))
    return not problems
