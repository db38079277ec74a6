"""DynamoDB helpers: plain-Python <-> attribute-value conversion, a paginated scan, a
BatchGetItem that asks again for unprocessed keys, stored timestamps as epoch seconds, and
error classification.

Numbers come back from DynamoDB as Decimal; the shop only stores integers (cents, counts,
versions, epoch seconds/ms), so they are turned into int here (a non-integral value stays a
float).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def to_attr(value: Any) -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value (floats are not used by the shop)."""
    return _serializer.serialize(value)


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    """A Python dict as a DynamoDB item."""
    return {key: to_attr(value) for key, value in data.items()}


def from_item(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """A DynamoDB item as a Python dict with ints instead of Decimals (None stays None)."""
    if item is None:
        return None
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def scan_items(client: Any, table: str, **extra: Any) -> Iterator[dict[str, Any]]:
    """Every item of `table` as a Python dict, page after page (`extra`: more Scan parameters,
    e.g. ConsistentRead=True)."""
    kwargs: dict[str, Any] = {"TableName": table, **extra}
    while True:
        page = client.scan(**kwargs)
        for raw in page.get("Items", []):
            yield from_item(raw) or {}
        if not page.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def batch_get(client: Any, request: dict[str, Any], attempts: int,
              pause_s: Callable[[int], float]) -> tuple[dict[str, list[dict[str, Any]]],
                                                     dict[str, Any], int]:
    """BatchGetItem `request` (its RequestItems), asking again for the keys DynamoDB left
    unprocessed, at most `attempts` requests, sleeping `pause_s(attempt)` between two.
    Returns (raw items by table, what is still unprocessed ({} when every key was answered),
    requests made)."""
    found: dict[str, list[dict[str, Any]]] = {}
    made = 0
    for attempt in range(attempts):
        made += 1
        answer = client.batch_get_item(RequestItems=request)
        for table, items in (answer.get("Responses") or {}).items():
            found.setdefault(table, []).extend(items)
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            break
        if attempt + 1 < attempts:
            time.sleep(pause_s(attempt))
    return found, request, made


def epoch_s(value: Any) -> float | None:
    """Epoch seconds from a stored timestamp (seconds or milliseconds); None when it is not a
    number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value / 1000.0 if value > 1e11 else float(value)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_condition_failure(exc: BaseException) -> bool:
    """True for a failed ConditionExpression on a single-item write."""
    return error_code(exc) == "ConditionalCheckFailedException"


def cancellation_codes(exc: BaseException) -> list[str]:
    """The per-item reason codes of a TransactionCanceledException ('None' for items that
    passed), or [] when `exc` is something else."""
    if error_code(exc) != "TransactionCanceledException":
        return []
    reasons = exc.response.get("CancellationReasons") or []  # type: ignore[attr-defined]
    return [str(reason.get("Code", "None")) for reason in reasons]
