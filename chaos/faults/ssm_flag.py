"""Faults carried by an SSM parameter that the target reads (reference_app/faults.py):
lambda-error, lambda-latency, service-error, service-latency, dynamodb-throttle.

One parameter per target, `/gameday/faults/<kind>/<target>`, JSON value with the fault's
`expires_at`: the target ignores the flag once it expires, so the fault ends on time even if
the CLI is SIGKILLed. Undo deletes the parameter (only if it still carries this fault's id).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import InjectionFailed, UnknownTarget
from chaos.faults.base import Fault, as_list, poll, rate_param
from chaos.faults.lambda_lookup import function_candidates
from chaos.ledger import Entry
from reference_app.faults import FaultMatch  # the reader's contract: what it accepts

log = logging.getLogger("chaos.faults.ssm_flag")

PREFIX = "/gameday/faults"
SERVICE_TARGETS = ("payments", "reviews")
KNOWN_EXCEPTIONS = ("Exception", "RuntimeError", "ValueError", "KeyError", "TimeoutError",
                    "ConnectionError")


def parameter_name(kind: str, target: str) -> str:
    return f"{PREFIX}/{kind}/{target}"


class SsmFlagFault(Fault):
    """One fault name of the SSM-flag family; `kind` is lambda | service | dynamodb."""

    def __init__(self, name: str, kind: str, summary: str) -> None:
        self.name = name
        self.kind = kind
        self.summary = summary

    # -- parameters -------------------------------------------------------------------------
    def normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"rate": rate_param(params)}
        if self.kind == "lambda":
            out["function"] = as_list(params.get("function"))
        else:
            out["service"] = as_list(params.get("service"))
        if self.name.endswith("-latency"):
            delay = params.get("delay_ms")
            if not isinstance(delay, int) or isinstance(delay, bool) or not 0 < delay <= 60000:
                raise ValueError(f"{self.name} needs delay_ms in 1..60000, got {delay!r}")
            out["delay_ms"] = delay
        if self.name == "lambda-error":
            exception = params.get("exception", "RuntimeError")
            if exception not in KNOWN_EXCEPTIONS:
                raise ValueError(f"exception must be one of {KNOWN_EXCEPTIONS}, got {exception!r}")
            out["exception"] = exception
        if self.name == "service-error":
            status = params.get("status", 503)
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise ValueError(f"status must be an HTTP error status, got {status!r}")
            out["status"] = status
        if self.name == "dynamodb-throttle":
            out["tables"] = as_list(params.get("tables"))
        field, equals = params.get("match_field"), params.get("match_equals")
        match = params.get("match")
        if (field is None) != (equals is None):
            raise ValueError("match needs both a field and a value (match_field/match_equals)")
        if field is not None:
            match = {"field": field, "equals": equals}
        if match is not None:
            if self.kind != "lambda":
                raise ValueError("match applies to Lambda faults only")
            for item in match if isinstance(match, list) else [match]:
                unknown = set(item) - {"field", "equals"} if isinstance(item, dict) else set()
                if unknown:
                    raise ValueError(f"match does not take {', '.join(sorted(unknown))}")
            conditions = FaultMatch.parse(match).conditions
            out["match"] = ([{"field": f, "equals": e} for f, e in conditions]
                            if len(conditions) > 1 else
                            {"field": conditions[0][0], "equals": conditions[0][1]})
        self.reject_unknown(params, {"rate", "function", "service", "delay_ms", "exception",
                                     "status", "tables", "match_field", "match_equals", "match"})
        return out

    def candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        if self.kind == "lambda":
            return function_candidates(ctx, params["function"])
        if self.kind == "service":
            requested = params["service"] or list(SERVICE_TARGETS)
            bad = [s for s in requested if s not in SERVICE_TARGETS]
            if bad:
                raise UnknownTarget(f"{self.name} targets {SERVICE_TARGETS}, not {bad}")
            return requested
        known = sorted((ctx.state.get("services") or {}).keys())
        services = params["service"] or known
        if not services:
            raise InjectionFailed("dynamodb-throttle needs --service (no stack to list them)")
        bad = [s for s in services if known and s not in known]
        if bad:
            raise UnknownTarget(f"dynamodb-throttle: no service {bad} in the stack "
                                f"(known: {known})")
        return services

    def conflict_keys(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [parameter_name(self.kind, t) for t in targets]

    def effects(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        value = {k: v for k, v in self._value_template(params).items() if k != "fault"}
        return [f"put SSM {parameter_name(self.kind, t)} = {json.dumps(value, sort_keys=True)}"
                for t in targets]

    def _value_template(self, params: dict[str, Any]) -> dict[str, Any]:
        value: dict[str, Any] = {"fault": self.name, "rate": params["rate"]}
        for key in ("status", "exception", "delay_ms", "match", "tables"):
            if key in params:
                value[key] = params[key]
        return value

    def value_for(self, entry: Entry) -> dict[str, Any]:
        return {"fault_id": entry.fault_id, **self._value_template(entry.params),
                "started_at": entry.started_at, "expires_at": entry.expires_at}

    # -- inject / verify / undo ---------------------------------------------------------------
    def prepare_undo(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        return {"parameters": [parameter_name(self.kind, t) for t in entry.targets]}

    def inject(self, ctx: ChaosContext, entry: Entry) -> None:
        ssm = ctx.client("ssm")
        value = json.dumps(self.value_for(entry), sort_keys=True)
        for name in entry.undo["parameters"]:
            try:
                ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True,
                                  Description=f"chaos fault {entry.fault_id}")
            except Exception as exc:  # noqa: BLE001 - any AWS error fails the injection
                raise InjectionFailed(f"could not put {name}: {exc}") from exc

    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        expected = self.value_for(entry)
        for name in entry.undo["parameters"]:
            if not poll(lambda n=name: _read(ctx, n) == expected, timeout_s=3.0, interval_s=0.2):
                raise InjectionFailed(f"{name} does not read back as written")

    def undo(self, ctx: ChaosContext, entry: Entry) -> str:
        ssm = ctx.client("ssm")
        done = []
        for name in entry.undo.get("parameters", []):
            current = _read(ctx, name)
            if current is None:
                done.append(f"{name} already gone")
                continue
            if isinstance(current, dict) and current.get("fault_id") not in (entry.fault_id,):
                done.append(f"{name} now belongs to {current.get('fault_id')}; left alone")
                continue
            try:
                ssm.delete_parameter(Name=name)
            except ssm.exceptions.ParameterNotFound:
                pass
            done.append(f"deleted {name}")
        return "; ".join(done) or "nothing to undo"


def _read(ctx: ChaosContext, name: str) -> Any:
    """The parameter's JSON value (a string if it is not JSON), or None when absent."""
    ssm = ctx.client("ssm")
    try:
        raw = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def list_flags(ctx: ChaosContext) -> dict[str, Any]:
    """Every parameter under /gameday/faults/ → its value (for cleanup's stray-flag sweep)."""
    ssm = ctx.client("ssm")
    out: dict[str, Any] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=PREFIX, Recursive=True):
        for param in page.get("Parameters", []):
            try:
                out[param["Name"]] = json.loads(param["Value"])
            except json.JSONDecodeError:
                out[param["Name"]] = param["Value"]
    return out


FAULTS = [
    SsmFlagFault("lambda-error", "lambda",
                 "the Lambda handler raises (rate, exception, optional record match)"),
    SsmFlagFault("lambda-latency", "lambda", "the Lambda handler sleeps delay_ms first"),
    SsmFlagFault("service-error", "service", "payments/reviews answer `status` (rate)"),
    SsmFlagFault("service-latency", "service", "payments/reviews answer delay_ms late"),
    SsmFlagFault("dynamodb-throttle", "dynamodb",
                 "the service's DynamoDB calls fail with ProvisionedThroughputExceeded"),
]
