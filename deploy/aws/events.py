"""Following a CloudFormation stack operation: one progress line per new stack event, the failed
resources with their reasons, and the final status.

boto3's waiters (``stack_create_complete`` ...) only say "failed"; the operator needs to see
which resource failed and why, while it happens. ``StackWatcher.wait`` polls DescribeStackEvents
(newest first, paged) and DescribeStacks until the stack leaves its ``*_IN_PROGRESS`` state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SUCCESS = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE",
                     "IMPORT_COMPLETE"})


@dataclass(frozen=True)
class FailedResource:
    """A resource event that ended in *_FAILED."""

    logical_id: str
    resource_type: str
    status: str
    reason: str

    def __str__(self) -> str:
        return f"{self.logical_id} ({self.resource_type}) {self.status}: {self.reason}"


@dataclass
class Outcome:
    """How a stack operation ended."""

    status: str
    failures: list[FailedResource] = field(default_factory=list)
    gone: bool = False  # the stack no longer exists (deleted)

    @property
    def ok(self) -> bool:
        return self.status in SUCCESS or self.gone


def event_line(event: dict[str, Any]) -> str:
    """One progress line: time, status, type, logical id, and the reason when there is one."""
    stamp = event.get("Timestamp")
    clock = stamp.strftime("%H:%M:%S") if hasattr(stamp, "strftime") else str(stamp or "")
    line = (f"  {clock}  {event.get('ResourceStatus', ''):<28} "
            f"{event.get('ResourceType', ''):<42} {event.get('LogicalResourceId', '')}")
    reason = event.get("ResourceStatusReason")
    return f"{line}  ({reason})" if reason else line


def _is_failure(event: dict[str, Any]) -> bool:
    """A resource (not the stack itself) that failed."""
    return (str(event.get("ResourceStatus", "")).endswith("_FAILED")
            and event.get("LogicalResourceId") != event.get("StackName"))


class StackWatcher:
    """Prints the events of one stack that are newer than the ones seen at construction."""

    def __init__(self, cloudformation: Any, stack: str, say: Callable[[str], None],
                 poll_s: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.cf = cloudformation
        self.stack = stack
        self.say = say
        self.poll_s = poll_s
        self.sleep = sleep
        self.seen: set[str] = {e["EventId"] for e in self._events()}

    def _events(self) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StackName": self.stack}
        try:
            while True:
                page = self.cf.describe_stack_events(**kwargs)
                events += page.get("StackEvents", [])
                if not page.get("NextToken"):
                    return events
                kwargs["NextToken"] = page["NextToken"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return events
            raise

    def _status(self, name: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            stacks = self.cf.describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return str(stacks[0]["StackStatus"]) if stacks else None

    def new_events(self) -> list[dict[str, Any]]:
        """Events not printed yet, oldest first (each printed once)."""
        fresh = [e for e in self._events() if e["EventId"] not in self.seen]
        fresh.reverse()
        for event in fresh:
            self.seen.add(event["EventId"])
        return fresh

    def wait(self, stack_id: str | None = None, timeout_s: float = 3600.0) -> Outcome:
        """Print events until the stack is no longer in progress; the outcome. `stack_id` lets
        a deleted stack still be described (DescribeStacks takes the id of a deleted stack)."""
        failures: list[FailedResource] = []
        deadline = time.monotonic() + timeout_s
        while True:
            self._print_new(failures)
            status = self._status(stack_id or self.stack)
            done = status is None or not status.endswith("_IN_PROGRESS")
            if done or time.monotonic() > deadline:
                # events written between the last read and this status (the final ones, often
                # the failure itself) are printed before the verdict
                self._print_new(failures)
                if status is None:
                    return Outcome("DELETE_COMPLETE", failures, gone=True)
                return Outcome(status, failures, gone=status == "DELETE_COMPLETE")
            self.sleep(self.poll_s)

    def _print_new(self, failures: list[FailedResource]) -> None:
        for event in self.new_events():
            self.say(event_line(event))
            if _is_failure(event):
                failures.append(FailedResource(
                    str(event.get("LogicalResourceId", "")),
                    str(event.get("ResourceType", "")),
                    str(event.get("ResourceStatus", "")),
                    str(event.get("ResourceStatusReason") or "no reason given")))
