"""The shop's audit, run only as a process (`python -m reference_app.audit --json`) with the
stack's environment; its JSON report is the probe's output.

With a `baseline` (the report of an earlier audit, e.g. saved when the experiment started) the
report is judged against it: `clean` means no problem *appeared* since, and the problems that
were already there are listed apart (`preexisting`), not blamed on this run. Problems are
matched by the `key` the audit gives each one (reference_app.audit.Problem.key); a baseline
that is not a readable audit excuses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import AuditUnavailable

AUDIT_MODULE = "reference_app.audit"


def run_audit(ctx: ChaosContext, args: list[str] | None = None, timeout_s: float = 60.0,
              baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    """The audit's JSON report plus `exit_code` (judged against `baseline` when given, see
    `compare`); AuditUnavailable when there is no audit."""
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
    return report if baseline is None else compare(baseline, report)


def _readable(report: dict[str, Any]) -> bool:
    """An audit that ran and reported (0: no problem, 1: problems), not a crash."""
    return report.get("exit_code") in (0, 1) and isinstance(report.get("problems"), list)


def _keys(report: dict[str, Any]) -> list[str]:
    return [str(p.get("key") or f"{p.get('check')} {p.get('subject')} {p.get('subject_id')}")
            for p in report.get("problems") or []]


def compare(baseline: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """`report` judged against the earlier `baseline`: `clean` when the audit ran and no
    problem appeared since; `new`, `preexisting` (in both) and `resolved` (gone since) list the
    problems' keys; `all_clean` is the report's own verdict, the rest of the report follows."""
    now = _keys(report)
    usable = _readable(baseline)
    before = set(_keys(baseline)) if usable else set()
    new = [k for k in now if k not in before]
    out: dict[str, Any] = {
        "clean": _readable(report) and not new,
        "new": new,
        "preexisting": [k for k in now if k in before],
        "resolved": sorted(before - set(now)),
        "baseline_checked_at": baseline.get("checked_at"),
    }
    if not usable:
        out["baseline_note"] = "the baseline is not a readable audit: nothing is excused"
    out.update({k: v for k, v in report.items() if k not in out and k != "clean"})
    out["all_clean"] = bool(report.get("clean"))
    return out


def _looks_clean(report: dict[str, Any]) -> bool:
    for key in ("ok", "clean", "passed"):
        if isinstance(report.get(key), bool):
            return bool(report[key])
    problems = report.get("problems", report.get("violations", report.get("issues")))
    return not problems
