"""esm-update: change event source mapping settings of a function (UpdateEventSourceMapping),
keeping the previous values in the ledger. A *protection switch*: the poison-record control
turns BisectBatchOnFunctionError and the OnFailure destination off with it.

Not self-expiring: after a CLI died, `reap` (run by the stack's reaper) restores it.
"""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import InjectionFailed
from chaos.faults.base import Fault, as_list
from chaos.faults.lambda_lookup import function_candidates, mappings_of, onfailure_arn
from chaos.ledger import Entry

SETTINGS = {
    "BisectBatchOnFunctionError": False,
    "DestinationConfig": {"OnFailure": {}},
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "BatchSize": 100,
    "ParallelizationFactor": 1,
    "FunctionResponseTypes": [],
    "Enabled": True,
}  # key -> the AWS default, used on undo when the mapping had no value


def _readback(mapping: dict[str, Any], key: str) -> Any:
    if key == "Enabled":
        return mapping.get("State") in ("Enabled", "Enabling", "Updating")
    if key == "DestinationConfig":
        return onfailure_arn(mapping.get("DestinationConfig"))
    return mapping.get(key, SETTINGS[key])


def _wanted(key: str, value: Any) -> Any:
    if key == "DestinationConfig":
        return onfailure_arn(value)
    return value


class EsmUpdate(Fault):
    name = "esm-update"
    summary = "UpdateEventSourceMapping (e.g. bisect/OnFailure off); undo restores the values"
    self_expiring = False

    def normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        functions = as_list(params.get("function"))
        settings = params.get("settings")
        if not functions:
            raise ValueError("esm-update needs function: NAME")
        if not isinstance(settings, dict) or not settings:
            raise ValueError("esm-update needs settings: {Key: value, ...}")
        bad = set(settings) - set(SETTINGS)
        if bad:
            raise ValueError(f"esm-update cannot change {sorted(bad)} (can: {sorted(SETTINGS)})")
        self.reject_unknown(params, {"function", "settings"})
        return {"function": functions, "settings": settings}

    def candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        return function_candidates(ctx, params["function"])

    def conflict_keys(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [f"esm:{t}" for t in targets]

    def effects(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [f"UpdateEventSourceMapping of {t}: {params['settings']}" for t in targets]

    def prepare_undo(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        previous: dict[str, dict[str, Any]] = {}
        for function in entry.targets:
            mappings = mappings_of(ctx, function)
            if not mappings:
                raise InjectionFailed(f"{function} has no event source mapping")
            for mapping in mappings:
                previous[mapping["UUID"]] = {
                    key: (mapping.get("DestinationConfig") if key == "DestinationConfig"
                          else _readback(mapping, key))
                    for key in entry.params["settings"]
                }
        return {"previous": previous}

    def inject(self, ctx: ChaosContext, entry: Entry) -> None:
        client = ctx.client("lambda")
        for uuid in entry.undo["previous"]:
            try:
                client.update_event_source_mapping(UUID=uuid, **entry.params["settings"])
            except Exception as exc:  # noqa: BLE001
                raise InjectionFailed(f"UpdateEventSourceMapping {uuid}: {exc}") from exc

    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        client = ctx.client("lambda")
        for uuid in entry.undo["previous"]:
            mapping = client.get_event_source_mapping(UUID=uuid)
            for key, value in entry.params["settings"].items():
                if _readback(mapping, key) != _wanted(key, value):
                    raise InjectionFailed(
                        f"mapping {uuid}: {key} reads {_readback(mapping, key)!r}, "
                        f"not {value!r}")

    def undo(self, ctx: ChaosContext, entry: Entry) -> str:
        client = ctx.client("lambda")
        done = []
        for uuid, previous in (entry.undo.get("previous") or {}).items():
            restore = {k: (SETTINGS[k] if v is None else v) for k, v in previous.items()}
            try:
                client.update_event_source_mapping(UUID=uuid, **restore)
            except client.exceptions.ResourceNotFoundException:
                done.append(f"mapping {uuid} is gone")
                continue
            done.append(f"restored mapping {uuid}: {restore}")
        return "; ".join(done) or "nothing to undo"


FAULTS = [EsmUpdate()]
