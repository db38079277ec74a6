"""Queue depth of the stack's queues (on_failure, second_look): GetQueueAttributes, nothing
received or deleted."""

from __future__ import annotations

from chaos.context import ChaosContext


def depth(ctx: ChaosContext, queue: str) -> dict[str, int]:
    """{visible, in_flight} of the catalog's queue `queue`."""
    queues = ctx.catalog()["queues"]
    if queue not in queues:
        raise KeyError(f"the stack has no queue {queue!r} (known: {sorted(queues)})")
    attrs = ctx.client("sqs").get_queue_attributes(
        QueueUrl=queues[queue], AttributeNames=["ApproximateNumberOfMessages",
                                                "ApproximateNumberOfMessagesNotVisible"])
    values = attrs.get("Attributes", {})
    return {"visible": int(values.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(values.get("ApproximateNumberOfMessagesNotVisible", 0))}
