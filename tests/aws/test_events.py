"""deploy.aws.events.StackWatcher on events shaped as CloudFormation returns them (newest first,
paged), from a scripted client: every event printed once and in order, failed resources
collected with their reasons, the stack's own events not counted as resource failures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deploy.aws.events import StackWatcher


def _event(n: int, logical: str, status: str, reason: str | None = None,
           resource_type: str = "AWS::SQS::Queue") -> dict[str, Any]:
    event = {"EventId": f"e{n}", "StackName": "st", "LogicalResourceId": logical,
             "ResourceType": resource_type, "ResourceStatus": status,
             "Timestamp": datetime(2026, 1, 1, 12, 0, n, tzinfo=UTC)}
    if reason:
        event["ResourceStatusReason"] = reason
    return event


class ScriptedCloudFormation:
    """Each poll reveals the next batch of events and the next stack status."""

    def __init__(self, batches: list[list[dict[str, Any]]], statuses: list[str]) -> None:
        self.batches, self.statuses, self.polls = batches, statuses, 0
        self.events: list[dict[str, Any]] = []

    def describe_stack_events(self, StackName: str, NextToken: str | None = None
                              ) -> dict[str, Any]:
        newest_first = list(reversed(self.events))
        if NextToken is None:  # two pages, as CloudFormation pages long histories
            return {"StackEvents": newest_first[:2], "NextToken": "p2"}
        return {"StackEvents": newest_first[2:]}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        status = self.statuses[min(self.polls, len(self.statuses) - 1)]
        self.polls += 1
        if self.polls <= len(self.batches):
            self.events += self.batches[self.polls - 1]
        return {"Stacks": [{"StackStatus": status}]}


def test_failures_are_collected_and_every_event_printed_once() -> None:
    cf = ScriptedCloudFormation([], ["CREATE_IN_PROGRESS"])
    cf.events = [_event(0, "st", "REVIEW_IN_PROGRESS", resource_type="AWS::CloudFormation::Stack")]
    lines: list[str] = []
    watcher = StackWatcher(cf, "st", lines.append, poll_s=0, sleep=lambda _: None)
    cf.batches = [
        [_event(1, "st", "CREATE_IN_PROGRESS", resource_type="AWS::CloudFormation::Stack"),
         _event(2, "Queue", "CREATE_IN_PROGRESS"), _event(3, "Queue", "CREATE_COMPLETE")],
        [_event(4, "Table", "CREATE_FAILED", "Table already exists: shop-orders",
                "AWS::DynamoDB::Table"),
         _event(5, "st", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed",
                "AWS::CloudFormation::Stack")],
        [_event(6, "Queue", "DELETE_COMPLETE"),
         _event(7, "st", "ROLLBACK_COMPLETE", resource_type="AWS::CloudFormation::Stack")],
    ]
    cf.statuses = ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    outcome = watcher.wait()
    assert outcome.status == "ROLLBACK_COMPLETE" and not outcome.ok
    assert [str(f) for f in outcome.failures] == [
        "Table (AWS::DynamoDB::Table) CREATE_FAILED: Table already exists: shop-orders"]
    assert len(lines) == 7  # e1..e7, each once, e0 was there before
    assert [line.split()[1] for line in lines] == [
        "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE", "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS", "DELETE_COMPLETE", "ROLLBACK_COMPLETE"]
    assert "(Table already exists: shop-orders)" in lines[3]


def test_a_deleted_stack_ends_the_wait() -> None:
    from botocore.exceptions import ClientError

    class Gone(ScriptedCloudFormation):
        def describe_stacks(self, StackName: str) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "ValidationError",
                                         "Message": f"Stack with id {StackName} does not exist"}},
                              "DescribeStacks")

    watcher = StackWatcher(Gone([], []), "st", lambda _: None, poll_s=0)
    outcome = watcher.wait()
    assert outcome.gone and outcome.ok
