"""The undo that survives the CLI: before an aws fault injects, one EventBridge Scheduler
one-time schedule per undo call is created in the account, so the fault ends at its expiry
even if the operator's machine dies.

- `at(yyyy-mm-ddThh:mm:ss)` in UTC, `GRACE_S` after the fault's expiry (the CLI's own undo
  comes first when it is alive; the schedule is then deleted);
- the universal target `arn:aws:scheduler:::aws-sdk:<service>:<apiAction>` whose `Input` is
  the undo call's own request (the same parameters boto3 sends: ECS' are camelCase, the
  others PascalCase, as in each API's JSON);
- `ActionAfterCompletion: DELETE` (nothing left behind once it ran), a flexible window OFF,
  and the stack's undo role (template output `UndoRoleArn`, assumed by scheduler.amazonaws.com,
  allowed exactly these undo calls on the stack's resources).

Schedules are named `gameday-undo-<fault id>-<n>` in the `default` group, so `cleanup` and the
tests find every pending undo by prefix. moto stores schedules but never fires them: the tests
check each one's expression, target and input, and run the undo call themselves.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore import xform_name

log = logging.getLogger("chaos.faults.aws.scheduled_undo")

PREFIX = "gameday-undo-"
GROUP = "default"
GRACE_S = 30.0


@dataclass(frozen=True)
class UndoCall:
    """One AWS API call that undoes (part of) a fault: `service` as boto3 names it,
    `operation` as the API does (``UpdateService``), `params` its request."""

    service: str
    operation: str
    params: dict[str, Any]

    @property
    def target_arn(self) -> str:
        action = self.operation[0].lower() + self.operation[1:]
        return f"arn:aws:scheduler:::aws-sdk:{self.service}:{action}"

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "operation": self.operation, "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UndoCall:
        return cls(data["service"], data["operation"], dict(data["params"]))

    def call(self, client: Any) -> Any:
        """Make the call now with a boto3 client of `service`."""
        return getattr(client, xform_name(self.operation))(**self.params)

    def line(self) -> str:
        return f"{self.service}:{self.operation} {json.dumps(self.params, sort_keys=True)}"


def schedule_name(fault_id: str, index: int) -> str:
    return f"{PREFIX}{fault_id}-{index}"[:64]


def at_expression(epoch: float) -> str:
    """EventBridge Scheduler's one-time expression for `epoch` (whole seconds, UTC)."""
    return "at(" + datetime.fromtimestamp(int(epoch) + 1, tz=UTC).strftime(
        "%Y-%m-%dT%H:%M:%S") + ")"


def fires_at(expires_at: float) -> float:
    return expires_at + GRACE_S


def request(fault_id: str, index: int, call: UndoCall, expires_at: float, role_arn: str
            ) -> dict[str, Any]:
    """The CreateSchedule request for one undo call."""
    return {
        "Name": schedule_name(fault_id, index),
        "GroupName": GROUP,
        "ScheduleExpression": at_expression(fires_at(expires_at)),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "State": "ENABLED",
        "Description": f"undo of chaos fault {fault_id} if its CLI is gone",
        "Target": {"Arn": call.target_arn, "RoleArn": role_arn,
                   "Input": json.dumps(call.params, sort_keys=True),
                   "RetryPolicy": {"MaximumRetryAttempts": 10,
                                   "MaximumEventAgeInSeconds": 3600}},
    }


def create(scheduler: Any, fault_id: str, calls: list[UndoCall], expires_at: float,
           role_arn: str) -> list[str]:
    """Create one schedule per call; the names created."""
    names = []
    for index, call in enumerate(calls):
        req = request(fault_id, index, call, expires_at, role_arn)
        scheduler.create_schedule(**req)
        names.append(req["Name"])
        log.info("scheduled %s at %s: %s", req["Name"], req["ScheduleExpression"], call.line())
    return names


def delete(scheduler: Any, names: list[str]) -> list[str]:
    """Delete the schedules (idempotent); what was deleted."""
    deleted = []
    for name in names:
        try:
            scheduler.delete_schedule(Name=name, GroupName=GROUP)
            deleted.append(name)
        except scheduler.exceptions.ResourceNotFoundException:
            pass
    return deleted


def pending(scheduler: Any) -> list[str]:
    """Names of every undo schedule still in the account."""
    names: list[str] = []
    for page in scheduler.get_paginator("list_schedules").paginate(NamePrefix=PREFIX,
                                                                    GroupName=GROUP):
        names += [s["Name"] for s in page.get("Schedules", [])]
    return sorted(names)
