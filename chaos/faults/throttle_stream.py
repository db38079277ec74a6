"""throttle-stream: reserved concurrency 0 on a Lambda function (PutFunctionConcurrency), so
its stream consumer stops invoking it and the shard backs up.

Undo restores the previous reserved concurrency (remembered in the ledger) or deletes it.
The target does not expire this by itself: after a CLI died, the stack's reaper runs
`python -m chaos reap --state-dir DIR`, which undoes every expired ledger entry.
"""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import InjectionFailed
from chaos.faults.base import Fault, as_list
from chaos.faults.lambda_lookup import function_candidates
from chaos.ledger import Entry


def reserved(ctx: ChaosContext, function: str) -> int | None:
    resp = ctx.client("lambda").get_function_concurrency(FunctionName=function)
    value = resp.get("ReservedConcurrentExecutions")
    return None if value is None else int(value)


class ThrottleStream(Fault):
    name = "throttle-stream"
    summary = "reserved concurrency 0 on a Lambda function: its stream backs up"
    self_expiring = False

    def normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        self.reject_unknown(params, {"function"})
        return {"function": as_list(params.get("function"))}

    def candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        return function_candidates(ctx, params["function"])

    def conflict_keys(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [f"concurrency:{t}" for t in targets]

    def effects(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [f"PutFunctionConcurrency {t} ReservedConcurrentExecutions=0" for t in targets]

    def prepare_undo(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        return {"previous": {t: reserved(ctx, t) for t in entry.targets}}

    def inject(self, ctx: ChaosContext, entry: Entry) -> None:
        client = ctx.client("lambda")
        for function in entry.targets:
            try:
                client.put_function_concurrency(FunctionName=function,
                                                ReservedConcurrentExecutions=0)
            except Exception as exc:  # noqa: BLE001
                raise InjectionFailed(f"PutFunctionConcurrency {function}: {exc}") from exc

    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        for function in entry.targets:
            value = reserved(ctx, function)
            if value != 0:
                raise InjectionFailed(f"{function} reserved concurrency reads {value}, not 0")

    def undo(self, ctx: ChaosContext, entry: Entry) -> str:
        client = ctx.client("lambda")
        done = []
        for function, previous in (entry.undo.get("previous") or {}).items():
            current = reserved(ctx, function)
            if current != 0:
                done.append(f"{function} concurrency is {current}; left alone")
            elif previous is None:
                client.delete_function_concurrency(FunctionName=function)
                done.append(f"deleted reserved concurrency of {function}")
            else:
                client.put_function_concurrency(FunctionName=function,
                                                ReservedConcurrentExecutions=previous)
                done.append(f"restored {function} reserved concurrency {previous}")
        return "; ".join(done) or "nothing to undo"


FAULTS = [ThrottleStream()]
