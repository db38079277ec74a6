"""What every aws fault backend adds to a fault: tag-checked candidates, the API calls it would
make (for `--dry` and the operator policy test), and an undo scheduled in the account before it
injects (scheduled_undo.py), deleted once the CLI has undone the fault itself.

`Scheduled` wraps one of the local fault families (they act through the same AWS APIs:
SSM flags, reserved concurrency, mapping settings, alarms) and adds exactly that; backends
with no local twin (ecs_tasks.py) subclass `AwsFault`.

The ledger entry carries everything undo needs: the wrapped fault's undo data, the undo calls
(also the schedules' inputs) and the schedules' names.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import InjectionFailed, UnsafeTarget
from chaos.faults.aws import scheduled_undo
from chaos.faults.aws.scheduled_undo import UndoCall
from chaos.faults.base import Fault
from chaos.ledger import Entry

log = logging.getLogger("chaos.faults.aws")


def undo_role(ctx: ChaosContext) -> str:
    role = ctx.catalog().get("undo_role_arn")
    if not role:
        raise InjectionFailed(f"stack {ctx.stack} has no UndoRoleArn output (deployed from an "
                              "older template): `gameday aws deploy` it again")
    return str(role)


class AwsFault(Fault):
    """An aws fault backend: subclasses implement the `_` methods."""

    def candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        if not ctx.target_aws or not ctx.stack:
            raise UnsafeTarget(f"{self.name} on aws needs --target-aws --stack NAME")
        return self._candidates(ctx, params)

    def effects(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        undo = self.planned_undo(targets, params)
        grace = f"{scheduled_undo.GRACE_S:.0f}"
        return ([f"scheduler:CreateSchedule gameday-undo-<fault>-<n> at(expiry + {grace} s) "
                 f"-> {c} (before injecting)" for c in undo]
                + self.api_calls(targets, params)
                + [f"{c} (at its end, Ctrl-C or cleanup)" for c in undo]
                + ["scheduler:DeleteSchedule gameday-undo-<fault>-<n> (once undone)"
                   for _ in undo])

    def prepare_undo(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        data = self._prepare(ctx, entry)
        calls = self.undo_calls(entry.targets, entry.params, data)
        return {**data, "stack": ctx.stack,
                "undo_calls": [c.to_dict() for c in calls],
                "schedules": [scheduled_undo.schedule_name(entry.fault_id, i)
                              for i in range(len(calls))]}

    def inject(self, ctx: ChaosContext, entry: Entry) -> None:
        calls = [UndoCall.from_dict(c) for c in entry.undo["undo_calls"]]
        try:
            scheduled_undo.create(ctx.client("scheduler"), entry.fault_id, calls,
                                  entry.expires_at, undo_role(ctx))
        except InjectionFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - no scheduled undo, no fault
            raise InjectionFailed(f"{self.name}: could not schedule its undo, nothing "
                                  f"injected: {exc}") from exc
        self._inject(ctx, entry)

    def undo(self, ctx: ChaosContext, entry: Entry) -> str:
        detail = self._undo(ctx, entry)
        deleted = scheduled_undo.delete(ctx.client("scheduler"), entry.undo.get("schedules", []))
        return f"{detail}; deleted {len(deleted)} scheduled undo(s)" if deleted else detail

    # -- what a backend implements ---------------------------------------------------------
    @abstractmethod
    def _candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]: ...

    @abstractmethod
    def api_calls(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        """`service:Operation detail` lines of every call injecting makes (reads included)."""

    @abstractmethod
    def planned_undo(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        """`service:Operation` of each undo call (known before the previous values are)."""

    @abstractmethod
    def undo_calls(self, targets: list[str], params: dict[str, Any],
                   data: dict[str, Any]) -> list[UndoCall]: ...

    def _prepare(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        return {}

    @abstractmethod
    def _inject(self, ctx: ChaosContext, entry: Entry) -> None: ...

    @abstractmethod
    def _undo(self, ctx: ChaosContext, entry: Entry) -> str: ...


class Scheduled(AwsFault):
    """A local fault family on aws: its own inject/verify/undo, tag-checked candidates, the
    calls it makes, and its undo scheduled."""

    def __init__(self, inner: Fault, calls: list[str], undo_ops: list[str],
                 undo_calls: Any, candidates: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.summary = inner.summary + " (aws: undo scheduled in the account)"
        self.self_expiring = True  # the schedule ends it
        self._calls = calls
        self._undo_ops = undo_ops
        self._undo_calls = undo_calls
        self._candidates_fn = candidates

    def normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.inner.normalize(params)

    def conflict_keys(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return self.inner.conflict_keys(targets, params)

    def _candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        return list(self._candidates_fn(ctx, params))

    def api_calls(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [line for t in targets for line in (c.format(target=t) for c in self._calls)]

    def planned_undo(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [f"{op} {t}" for t in targets for op in self._undo_ops]

    def undo_calls(self, targets: list[str], params: dict[str, Any],
                   data: dict[str, Any]) -> list[UndoCall]:
        return list(self._undo_calls(targets, params, data))

    def _prepare(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        return self.inner.prepare_undo(ctx, entry)

    def _inject(self, ctx: ChaosContext, entry: Entry) -> None:
        self.inner.inject(ctx, entry)

    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        self.inner.verify(ctx, entry)

    def _undo(self, ctx: ChaosContext, entry: Entry) -> str:
        return self.inner.undo(ctx, entry)
