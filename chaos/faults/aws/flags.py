"""lambda-error, lambda-latency, service-error, service-latency, dynamodb-throttle on aws: the
same SSM flag parameters the handlers and services read (chaos/faults/ssm_flag.py, the
template's `/gameday/faults/` path every role may read), for functions and ECS services tagged
by our stack; the scheduled undo deletes the parameter (the readers already ignore it after
its `expires_at`). FIS is the alternative for the Lambda faults: fis.py."""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext
from chaos.faults import ssm_flag
from chaos.faults.aws import tagging
from chaos.faults.aws.base import Scheduled
from chaos.faults.aws.scheduled_undo import UndoCall

READ_CALLS = {
    "lambda": ["lambda:GetFunction {target}"],
    "service": ["ecs:DescribeServices {target}"],
    "dynamodb": ["ecs:DescribeServices {target}"],
}


def _candidates(fault: ssm_flag.SsmFlagFault) -> Any:
    def candidates(ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        if fault.kind == "lambda":
            return tagging.our_functions(ctx, params["function"])
        services = params["service"] or (list(ssm_flag.SERVICE_TARGETS)
                                         if fault.kind == "service"
                                         else sorted(ctx.catalog()["services"]))
        if fault.kind == "service":
            bad = [s for s in services if s not in ssm_flag.SERVICE_TARGETS]
            if bad:
                from chaos.exceptions import UnknownTarget

                raise UnknownTarget(f"{fault.name} targets {ssm_flag.SERVICE_TARGETS}, "
                                    f"not {bad}")
        return tagging.our_services(ctx, services)
    return candidates


def _undo_calls(targets: list[str], params: dict[str, Any], data: dict[str, Any]
                ) -> list[UndoCall]:
    return [UndoCall("ssm", "DeleteParameter", {"Name": name}) for name in data["parameters"]]


def flag_fault(inner: ssm_flag.SsmFlagFault) -> Scheduled:
    calls = READ_CALLS[inner.kind] + [
        f"ssm:PutParameter {ssm_flag.PREFIX}/{inner.kind}/{{target}}",
        f"ssm:GetParameter {ssm_flag.PREFIX}/{inner.kind}/{{target}}"]
    return Scheduled(inner, calls, ["ssm:DeleteParameter"], _undo_calls, _candidates(inner))


FAULTS = [flag_fault(f) for f in ssm_flag.FAULTS]
