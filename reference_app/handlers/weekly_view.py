"""shop-weekly-view (reviews stream): keep the counts of the weekly-products read view (CQRS,
seed 000/003) current.

On an INSERT or MODIFY of a product's `COUNTS` row, one UpdateItem on the view row
(Week = the ISO week of the change, ProductId):
`SET Reviews = :r, Likes = :l` IF `attribute_exists(ProductId)` (the product is in this week's
view; rows are never created here) AND the stored counts are absent or not greater than the new
ones. Counts only grow, so a redelivered or out-of-order older image fails the condition and
changes nothing; the view never goes backwards. O(1): no read before the write.
"""

from __future__ import annotations

import time
from typing import Any

from reference_app.clock import iso_week
from reference_app.ddb import is_condition_failure, to_attr
from reference_app.handlers.common import RecordContext, StreamRecord, aws, run_batch, settings

FUNCTION_NAME = "shop-weekly-view"
COUNTS_ITEM = "COUNTS"


def update_view(product_id: str, reviews: int, likes: int, week: str) -> bool:
    """Set the view row's counts; False when the product is not in the week's view or the view
    already shows newer counts."""
    try:
        aws("dynamodb").update_item(
            TableName=settings().tables.weekly,
            Key={"Week": {"S": week}, "ProductId": {"S": product_id}},
            UpdateExpression="SET Reviews = :r, Likes = :l",
            ConditionExpression=("attribute_exists(ProductId)"
                                 " AND (attribute_not_exists(Reviews) OR Reviews <= :r)"
                                 " AND (attribute_not_exists(Likes) OR Likes <= :l)"),
            ExpressionAttributeValues={":r": to_attr(reviews), ":l": to_attr(likes)},
        )
    except Exception as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def process(ctx: RecordContext) -> None:
    record = ctx.record
    new = record.new
    if record.event_name not in ("INSERT", "MODIFY") or not new:
        return
    if new.get("ItemId") != COUNTS_ITEM:
        return
    product_id = str(new["ProductId"])
    reviews, likes = int(new.get("Reviews", 0)), int(new.get("Likes", 0))
    week = iso_week(record.created_at or time.time())
    if update_view(product_id, reviews, likes, week):
        ctx.log.info("weekly view %s/%s: reviews=%d likes=%d", week, product_id, reviews, likes)
    else:
        ctx.log.debug("weekly view %s/%s unchanged (not in the view, or newer counts stored)",
                      week, product_id)


def correlation_of(record: StreamRecord) -> str:
    """The row's CorrelationId when the reviews service wrote one, else product + event id."""
    if record.image.get("CorrelationId"):
        return str(record.image["CorrelationId"])
    return f"product:{record.image.get('ProductId')}:{record.event_id}"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (reviews stream)."""
    return run_batch(event, FUNCTION_NAME, process, correlation_of)
