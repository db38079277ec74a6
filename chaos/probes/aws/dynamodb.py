"""Orders in the stack's orders table, counted by status (a Scan of Status only): how many
reached a terminal state, how many are still on their way."""

from __future__ import annotations

from collections import Counter
from typing import Any

from chaos.context import ChaosContext


def orders_by_status(ctx: ChaosContext) -> dict[str, int]:
    table = ctx.catalog()["tables"]["orders"]
    client = ctx.client("dynamodb")
    counts: Counter[str] = Counter()
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": "#s",
                              "ExpressionAttributeNames": {"#s": "Status"}}
    while True:
        page = client.scan(**kwargs)
        counts.update(item.get("Status", {}).get("S", "UNKNOWN") for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return dict(counts)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
