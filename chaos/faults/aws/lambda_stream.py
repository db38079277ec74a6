"""throttle-stream and esm-update on aws, for functions tagged by our stack:

- throttle-stream `mode: concurrency` (default): PutFunctionConcurrency 0 (the local
  throttle_stream.py); undo restores the reserved concurrency read before, or deletes it;
- throttle-stream `mode: mapping`: UpdateEventSourceMapping Enabled=false on the function's
  mappings (esm_update.py); undo enables them again;
- esm-update: any mapping setting (the negative controls' protection switch); undo restores
  the values read before.

Each undo is also scheduled (`lambda:deleteFunctionConcurrency`, `putFunctionConcurrency`,
`updateEventSourceMapping`).
"""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext
from chaos.faults import esm_update, throttle_stream
from chaos.faults.aws import tagging
from chaos.faults.aws.base import Scheduled
from chaos.faults.aws.scheduled_undo import UndoCall
from chaos.faults.base import Fault
from chaos.ledger import Entry

MODES = ("concurrency", "mapping")
MAPPING_CALLS = ["lambda:GetFunction {target}", "lambda:ListEventSourceMappings {target}",
                 "lambda:UpdateEventSourceMapping of {target}",
                 "lambda:GetEventSourceMapping of {target}"]
CONCURRENCY_CALLS = ["lambda:GetFunction {target}", "lambda:GetFunctionConcurrency {target}",
                     "lambda:PutFunctionConcurrency {target} 0"]


def _functions(ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
    return tagging.our_functions(ctx, params["function"])


def _mapping_undo(targets: list[str], params: dict[str, Any], data: dict[str, Any]
                  ) -> list[UndoCall]:
    calls = []
    for uuid, previous in (data.get("previous") or {}).items():
        restore = {k: (esm_update.SETTINGS[k] if v is None else v) for k, v in previous.items()}
        calls.append(UndoCall("lambda", "UpdateEventSourceMapping", {"UUID": uuid, **restore}))
    return calls


def _concurrency_undo(targets: list[str], params: dict[str, Any], data: dict[str, Any]
                      ) -> list[UndoCall]:
    calls = []
    for function, previous in (data.get("previous") or {}).items():
        if previous is None:
            calls.append(UndoCall("lambda", "DeleteFunctionConcurrency",
                                  {"FunctionName": function}))
        else:
            calls.append(UndoCall("lambda", "PutFunctionConcurrency", {
                "FunctionName": function, "ReservedConcurrentExecutions": previous}))
    return calls


ESM_UPDATE = Scheduled(esm_update.EsmUpdate(), MAPPING_CALLS, ["lambda:UpdateEventSourceMapping"],
                       _mapping_undo, _functions)
_CONCURRENCY = Scheduled(throttle_stream.ThrottleStream(), CONCURRENCY_CALLS,
                         ["lambda:DeleteFunctionConcurrency or PutFunctionConcurrency"],
                         _concurrency_undo, _functions)


class ThrottleStream(Scheduled):
    """throttle-stream with `mode`: concurrency (reserved concurrency 0) or mapping (the
    function's mappings disabled)."""

    def __init__(self) -> None:
        super().__init__(_CONCURRENCY.inner, CONCURRENCY_CALLS, [], _concurrency_undo,
                         _functions)
        self.summary = ("reserved concurrency 0 (mode concurrency) or the mappings disabled "
                        "(mode mapping) on a Lambda function (aws: undo scheduled)")

    def normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("mode", "concurrency")
        if mode not in MODES:
            raise ValueError(f"throttle-stream on aws: mode must be one of {MODES}, "
                             f"got {mode!r}")
        clean = _CONCURRENCY.inner.normalize({k: v for k, v in params.items() if k != "mode"})
        if mode == "mapping":
            clean = {**ESM_UPDATE.inner.normalize({"function": clean["function"] or ["-"],
                                                   "settings": {"Enabled": False}}),
                     "function": clean["function"]}
        return {**clean, "mode": mode}

    def _inner(self, params: dict[str, Any]) -> Scheduled:
        return ESM_UPDATE if params.get("mode") == "mapping" else _CONCURRENCY

    def conflict_keys(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return self._inner(params).conflict_keys(targets, params)

    def api_calls(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return self._inner(params).api_calls(targets, params)

    def planned_undo(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [f"{'lambda:UpdateEventSourceMapping Enabled=true' if params.get('mode') == 'mapping' else 'lambda:DeleteFunctionConcurrency or PutFunctionConcurrency'} {t}"  # noqa: E501
                for t in targets]

    def undo_calls(self, targets: list[str], params: dict[str, Any],
                   data: dict[str, Any]) -> list[UndoCall]:
        return self._inner(params).undo_calls(targets, params, data)

    def _fault(self, entry: Entry) -> Fault:
        return self._inner(entry.params).inner

    def _prepare(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        return self._fault(entry).prepare_undo(ctx, entry)

    def _inject(self, ctx: ChaosContext, entry: Entry) -> None:
        self._fault(entry).inject(ctx, entry)

    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        self._fault(entry).verify(ctx, entry)

    def _undo(self, ctx: ChaosContext, entry: Entry) -> str:
        return self._fault(entry).undo(ctx, entry)


FAULTS = [ThrottleStream(), ESM_UPDATE]
