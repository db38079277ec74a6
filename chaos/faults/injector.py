"""Faults and the ledger together: plan → inject (write-ahead) → verify → undo; cleanup; reap.

Injection order, so that nothing can leak:
1. resolve candidates and choose targets (seeded), read what undo will need;
2. under the ledger lock, refuse a conflict with an active fault, then record the entry
   (status active, with its undo data) — before anything is changed;
3. inject, then verify that the fault landed; on any failure undo at once, mark the entry
   undone with the reason, and raise InjectionFailed (the command/run fails).
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from chaos.context import ChaosContext
from chaos.exceptions import FaultConflict, InjectionFailed
from chaos.faults.base import Fault, FaultPlan
from chaos.faults.ssm_flag import list_flags
from chaos.ledger import ACTIVE, EXPIRED, UNDONE, Entry, Ledger, new_fault_id
from chaos.targets import TARGETS, Selection, new_seed, target_of

log = logging.getLogger("chaos.faults.injector")


@dataclass
class UndoOutcome:
    fault_id: str
    name: str
    targets: list[str]
    status: str  # undone | expired | failed
    detail: str

    def line(self) -> str:
        return f"{self.status:<8} {self.fault_id} ({self.name} on {', '.join(self.targets)}): " \
               f"{self.detail}"


@dataclass
class CleanupReport:
    undone: list[UndoOutcome] = field(default_factory=list)
    tidied: list[UndoOutcome] = field(default_factory=list)  # had expired by themselves
    failed: list[UndoOutcome] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)

    @property
    def nothing_left(self) -> bool:
        return not (self.undone or self.failed or self.strays)


class Injector:
    """Inject/undo faults for one state dir (its ledger) through one context."""

    def __init__(self, ctx: ChaosContext, ledger: Ledger | None = None) -> None:
        self.ctx = ctx
        self.ledger = ledger or Ledger(ctx.state_dir)

    def fault(self, name: str) -> Fault:
        """The backend of fault `name` on this context's target (chaos/targets/)."""
        return target_of(self.ctx).fault(name)

    @staticmethod
    def fault_of(entry: Entry) -> Fault:
        """The backend that injected `entry` (its target is in the ledger; older entries
        are local)."""
        return TARGETS.get(entry.undo.get("target", "local")).fault(entry.name)

    # -- planning ---------------------------------------------------------------------------
    def plan(
        self,
        name: str,
        selection: str | Selection = "ALL",
        params: dict[str, Any] | None = None,
        duration_s: float = 30.0,
        seed: int | None = None,
    ) -> FaultPlan:
        """Targets chosen and effects listed, nothing touched."""
        fault = self.fault(name)
        if duration_s <= 0:
            raise ValueError("a fault needs a positive duration")
        sel = selection if isinstance(selection, Selection) else Selection.parse(selection)
        clean = fault.normalize(dict(params or {}))
        seed = new_seed() if seed is None else seed
        candidates = fault.candidates(self.ctx, clean)
        targets = sel.choose(candidates, seed)
        return FaultPlan(name=name, selection=str(sel), seed=seed, duration_s=duration_s,
                         params=clean, candidates=sorted(candidates), targets=targets,
                         effects=fault.effects(targets, clean))

    # -- injecting --------------------------------------------------------------------------
    def inject(self, plan: FaultPlan, run_id: str | None = None) -> Entry:
        fault = self.fault(plan.name)
        now = time.time()
        entry = Entry(
            fault_id=new_fault_id(plan.name), name=plan.name, targets=plan.targets,
            params=plan.params, started_at=now, expires_at=now + plan.duration_s,
            selection=plan.selection, seed=plan.seed, run_id=run_id,
        )
        entry.undo = {**fault.prepare_undo(self.ctx, entry),
                      "keys": fault.conflict_keys(plan.targets, plan.params),
                      "self_expiring": fault.self_expiring,
                      "aws_endpoint": self.ctx.aws_endpoint, "target": self.ctx.target}
        with self.ledger.transaction() as entries:
            taken = {key: e.fault_id for e in entries
                     if e.status == ACTIVE and not e.is_expired(now)
                     for key in e.undo.get("keys", [])}
            clash = [f"{k} (held by {taken[k]})" for k in entry.undo["keys"] if k in taken]
            if clash:
                raise FaultConflict(f"{plan.name}: target already under a fault: "
                                    f"{', '.join(clash)}")
            entries.append(entry)
        try:
            fault.inject(self.ctx, entry)
            fault.verify(self.ctx, entry)
        except Exception as exc:
            reason = exc if isinstance(exc, InjectionFailed) else InjectionFailed(
                f"{plan.name}: {type(exc).__name__}: {exc}")
            log.error("injection of %s failed: %s; undoing", entry.fault_id, reason)
            try:
                detail = fault.undo(self.ctx, entry)
            except Exception as undo_exc:  # noqa: BLE001 - report both
                detail = f"undo failed too: {undo_exc}"
            self.ledger.update(entry.fault_id, status=UNDONE, ended_at=time.time(),
                               note=f"injection failed: {reason}; {detail}")
            raise reason from exc
        log.info("injected %s on %s until %s", entry.fault_id, ", ".join(entry.targets),
                 time.strftime("%H:%M:%S", time.localtime(entry.expires_at)))
        return entry

    # -- undoing ----------------------------------------------------------------------------
    def undo(self, fault_id: str, by_owner: bool = False) -> UndoOutcome:
        """Undo one entry (idempotent: an entry no longer active is reported, not redone).
        `by_owner`: the process that injected it ends it on schedule (status undone, not
        expired, even at its expiry)."""
        entry = self.ledger.get(fault_id)
        if entry is None:
            raise KeyError(f"no fault {fault_id} in {self.ledger.path}")
        if entry.status != ACTIVE:
            return UndoOutcome(entry.fault_id, entry.name, entry.targets, entry.status,
                               f"already {entry.status}")
        status = EXPIRED if entry.is_expired() and not by_owner else UNDONE
        if entry.undo.get("target") == "aws" and not self.ctx.target_aws:
            # never "its stack is gone" for a fault in an account: only an aws context can
            # undo it (its schedule still will, at expiry)
            return UndoOutcome(entry.fault_id, entry.name, entry.targets, "failed",
                               "a fault on the aws target: undo it with --target-aws "
                               f"--allow-account ID --stack {entry.undo.get('stack')}")
        fault = self.fault_of(entry)
        if fault.uses_aws and self._stack_gone():
            detail = "its stack is gone (no state file, AWS endpoint closed); nothing left"
            self.ledger.update(fault_id, status=status, ended_at=time.time(), note=detail)
            return UndoOutcome(entry.fault_id, entry.name, entry.targets, status, detail)
        try:
            detail = fault.undo(self.ctx, entry)
        except Exception as exc:  # noqa: BLE001 - keep going with the other faults
            if self._target_gone(exc):
                detail = f"its stack is gone ({type(exc).__name__}); nothing left to undo"
            else:
                log.error("undo of %s failed: %s", fault_id, exc)
                return UndoOutcome(entry.fault_id, entry.name, entry.targets, "failed",
                                   f"{type(exc).__name__}: {exc}")
        self.ledger.update(fault_id, status=status, ended_at=time.time(), note=detail)
        return UndoOutcome(entry.fault_id, entry.name, entry.targets, status, detail)

    def _stack_gone(self) -> bool:
        """No state file and nothing listening on the (loopback) AWS endpoint: faults set in
        that endpoint died with it."""
        if self.ctx.target_aws or self.ctx.reload():
            return False
        endpoint = self.ctx.aws_endpoint
        if not endpoint:
            return True
        parsed = urlparse(endpoint)
        try:
            with socket.create_connection((parsed.hostname, parsed.port or 80), timeout=0.5):
                return False
        except OSError:
            return True

    def _target_gone(self, exc: Exception) -> bool:
        """A loopback endpoint that refuses connections while no stack runs: the fault died
        with its stack."""
        from botocore.exceptions import EndpointConnectionError

        from chaos.safety import UnsafeTarget

        if self.ctx.target_aws:
            return False
        no_stack = not self.ctx.reload()
        return no_stack and isinstance(exc, EndpointConnectionError | UnsafeTarget)

    def cleanup(self) -> CleanupReport:
        """Undo every active fault; tidy the expired ones; delete stray SSM flags."""
        report = CleanupReport()
        for entry in self.ledger.active():
            outcome = self.undo(entry.fault_id)
            bucket = {"undone": report.undone, "expired": report.tidied}.get(
                outcome.status, report.failed)
            if outcome.status == "expired" and not entry.undo.get("self_expiring", True):
                bucket = report.undone  # it was still in effect: really undone now
            bucket.append(outcome)
        if self.ctx.has_stack:
            report.strays = self._sweep_strays()
        if self.ctx.target_aws:
            report.strays += self._pending_schedules()
        return report

    def _pending_schedules(self) -> list[str]:
        """Undo schedules in the account that no active entry of this ledger owns (a fault
        another ledger, or a lost one, set): reported, never deleted — each is the only undo
        of a fault still in place, and it fires by itself."""
        from chaos.faults.aws import scheduled_undo

        owned = {n for e in self.ledger.active() for n in e.undo.get("schedules", [])}
        try:
            names = scheduled_undo.pending(self.ctx.client("scheduler"))
        except Exception as exc:  # noqa: BLE001
            log.warning("could not list the scheduled undos: %s", exc)
            return []
        return [f"scheduled undo {n} is pending for a fault this ledger does not hold; it "
                "fires by itself" for n in names if n not in owned]

    def _sweep_strays(self) -> list[str]:
        """Delete /gameday/faults/ parameters no active ledger entry owns (e.g. a ledger from
        a deleted state dir); expired ones are only noise and are deleted silently."""
        active_ids = {e.fault_id for e in self.ledger.active()}
        swept = []
        try:
            flags = list_flags(self.ctx)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not list fault flags: %s", exc)
            return []
        ssm = self.ctx.client("ssm")
        for name, value in flags.items():
            owner = value.get("fault_id") if isinstance(value, dict) else None
            if owner in active_ids:
                continue
            ssm.delete_parameter(Name=name)
            expired = isinstance(value, dict) and float(value.get("expires_at", 0) or 0) \
                <= time.time()
            if not expired:
                swept.append(f"deleted stray flag {name} (fault {owner})")
        return swept

    def reap(self) -> list[UndoOutcome]:
        """Undo every active entry whose expiry has passed (idempotent; for the reaper)."""
        return [self.undo(e.fault_id) for e in self.ledger.active() if e.is_expired()]
