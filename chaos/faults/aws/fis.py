"""The FIS alternative for lambda-error and lambda-latency: an AWS FIS experiment template with
`aws:lambda:invocation-error` or `aws:lambda:invocation-add-delay` on the stack's functions
(selected by our tags, not by name), stopped by the shop's CloudWatch alarms.

Why the SSM flags stay the default (docs/aws.md, "FIS"):
- FIS' Lambda actions need the **FIS extension layer** (`aws-fis-extension-<arch>`) on each
  function, the environment variables `AWS_FIS_CONFIGURATION_LOCATION` (an S3 ARN the
  extension polls) and `AWS_LAMBDA_EXEC_WRAPPER=/opt/aws-fis/bootstrap`, and the function role
  reading that S3 location; FIS writes the experiment's configuration there;
- the extension polls every 20-60 s, so a fault takes effect **up to 60 s after the experiment
  starts**: too slow for a 15-second fault window (the SSM flags act within a second).
- its rollback is FIS' own (duration ends, or a stop condition alarms): no schedule needed.

`experiment_template(...)` builds the CreateExperimentTemplate request (pure data, so tests
compare it); `create(ctx, ...)` sends it. moto stores FIS templates (CreateExperimentTemplate,
GetExperimentTemplate) but runs nothing.
"""

from __future__ import annotations

import math
from typing import Any

from deploy.aws.tags import MANAGED_TAG, STACK_TAG

ACTIONS = {"lambda-error": "aws:lambda:invocation-error",
           "lambda-latency": "aws:lambda:invocation-add-delay"}
START_DELAY_S = 60  # the extension's poll: a fault starts up to this late


def iso_duration(seconds: float) -> str:
    """FIS' ISO-8601 duration (PT1M30S), whole seconds, at least one."""
    total = max(1, math.ceil(seconds))
    minutes, secs = divmod(total, 60)
    return "PT" + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")


def experiment_template(fault: str, stack: str, role_arn: str, duration_s: float,
                        rate: float = 1.0, delay_ms: int | None = None,
                        functions: list[str] | None = None,
                        stop_alarm_arns: list[str] | None = None) -> dict[str, Any]:
    """The CreateExperimentTemplate request for `fault` (lambda-error | lambda-latency) on the
    stack's tagged functions (or the ARNs in `functions`)."""
    if fault not in ACTIONS:
        raise ValueError(f"FIS has no action for {fault!r} (has: {sorted(ACTIONS)})")
    if not 0 < rate <= 1:
        raise ValueError(f"rate must be in (0, 1], got {rate!r}")
    target: dict[str, Any] = {"resourceType": "aws:lambda:function",
                              "selectionMode": "ALL"}
    if functions:
        target["resourceArns"] = list(functions)
    else:
        target["resourceTags"] = {STACK_TAG: stack, MANAGED_TAG: "true"}
    parameters = {"duration": iso_duration(duration_s),
                  "invocationPercentage": str(round(rate * 100))}
    if fault == "lambda-error":
        parameters["preventExecution"] = "true"
    else:
        if not delay_ms or not 0 < delay_ms <= 900_000:
            raise ValueError(f"lambda-latency needs delay_ms in 1..900000, got {delay_ms!r}")
        parameters["startupDelayMilliseconds"] = str(delay_ms)
    stops = [{"source": "aws:cloudwatch:alarm", "value": arn}
             for arn in stop_alarm_arns or []] or [{"source": "none"}]
    return {
        "description": f"gameday {fault} on stack {stack} (starts up to {START_DELAY_S} s "
                       "late: the FIS extension polls)",
        "roleArn": role_arn,
        "targets": {"functions": target},
        "actions": {fault: {"actionId": ACTIONS[fault], "parameters": parameters,
                            "targets": {"Functions": "functions"}}},
        "stopConditions": stops,
        "tags": {STACK_TAG: stack, MANAGED_TAG: "true"},
    }


def create(fis: Any, request: dict[str, Any]) -> str:
    """Create the template; its id (start it with `aws fis start-experiment`)."""
    return str(fis.create_experiment_template(**request)["experimentTemplate"]["id"])
