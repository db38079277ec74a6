"""The shop's audit on aws: the same reconciliation as locally (reference_app.audit, the same
checks, the same problem keys, so a `baseline` excuses the same pre-existing problems), reading
the stack's tables (names from the catalog, i.e. the template's outputs) through the aws
context's boto3 session and region, with Scan only.

Locally the audit runs as a process with the stack's environment (chaos/probes/audit.py); here
it runs in this process, since its environment would be the operator's credentials anyway and a
process cannot be handed the context's session. The probe's `args` are the audit CLI's
(`--json`, `--grace-s N`), read by its own parser; its report gets the same `exit_code` (0 clean,
1 problems) and `clean` as the local one."""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext
from chaos.probes.audit import compare
from reference_app import audit as shop_audit
from reference_app.config import Settings


def audit_args(args: list[str] | None) -> float:
    """The grace period from the audit CLI's arguments; ValueError naming bad ones."""
    try:
        options = shop_audit.parser().parse_args(list(args) if args is not None else ["--json"])
    except SystemExit:
        raise ValueError(f"audit args {args!r} are not the audit's (--json, --grace-s N)") \
            from None
    return float(options.grace_s)


def run_audit(ctx: ChaosContext, args: list[str] | None = None,
              baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    """The audit's report of the stack's tables, judged against `baseline` when given
    (chaos.probes.audit.compare)."""
    tables = ctx.catalog()["tables"]
    missing = [t for t in shop_audit.AUDITED_TABLES if t not in tables]
    if missing:
        raise KeyError(f"the stack's catalog names no {', '.join(missing)} table(s)")
    report = shop_audit.audit(Settings(), grace_s=audit_args(args),
                              ddb=ctx.client("dynamodb"), tables=tables).to_dict()
    report["exit_code"] = 0 if report["ok"] else 1
    report["clean"] = bool(report["ok"])
    return report if baseline is None else compare(baseline, report)
