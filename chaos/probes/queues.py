"""The OnFailure destination (SQS) of a stream mapping: peek its messages (visibility 0, so
nothing is consumed for good) and resolve the DDBStreamBatchInfo of each to the stream records
it points at, to prove which record was isolated."""

from __future__ import annotations

import json
from typing import Any

from chaos.context import ChaosContext
from chaos.faults.lambda_lookup import mappings_of, onfailure_arn


def onfailure_queue_url(ctx: ChaosContext, function: str) -> str | None:
    """The SQS URL of the function's OnFailure destination, if it has one."""
    for mapping in mappings_of(ctx, function):
        arn = onfailure_arn(mapping.get("DestinationConfig"))
        if arn and arn.startswith("arn:aws:sqs:"):
            parts = arn.split(":")
            return ctx.client("sqs").get_queue_url(QueueName=parts[5],
                                                   QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
    return None


def peek(ctx: ChaosContext, queue_url: str, rounds: int = 5) -> list[dict[str, Any]]:
    """Up to rounds×10 message bodies (JSON-decoded where possible), left in the queue."""
    sqs = ctx.client("sqs")
    seen: dict[str, Any] = {}
    for _ in range(rounds):
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                   VisibilityTimeout=0, WaitTimeSeconds=0)
        messages = resp.get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        for message in fresh:
            try:
                seen[message["MessageId"]] = json.loads(message["Body"])
            except json.JSONDecodeError:
                seen[message["MessageId"]] = message["Body"]
        if not fresh:
            break
    return list(seen.values())


def batch_records(ctx: ChaosContext, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream records a DDBStreamBatchInfo points at (empty when trimmed or unreadable)."""
    streams = ctx.client("dynamodbstreams")
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=info["streamArn"], ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=str(info["startSequenceNumber"]),
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator,
                                      Limit=max(1, int(info.get("batchSize", 1))))["Records"]
    except Exception:  # noqa: BLE001 - the evidence is optional, the count is not
        return []
    end = info.get("endSequenceNumber")
    if end is not None:
        records = [r for r in records
                   if int(r["dynamodb"]["SequenceNumber"]) <= int(end)]
    return records


def new_image_field(record: dict[str, Any], field: str) -> Any:
    value = ((record.get("dynamodb") or {}).get("NewImage") or {}).get(field)
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    return value


def onfailure_report(ctx: ChaosContext, function: str, field: str | None = None,
                     equals: str | None = None) -> dict[str, Any]:
    """{queue, messages, batch_sizes, matched, isolated}: `matched` counts messages whose
    records (or body) carry field == equals; `isolated` is true when one of them is a batch of
    exactly one record (bisect narrowed the failure down to it)."""
    url = onfailure_queue_url(ctx, function)
    if url is None:
        return {"queue": None, "messages": 0, "batch_sizes": [], "matched": 0,
                "isolated": False}
    bodies = peek(ctx, url)
    sizes, matched, isolated = [], 0, False
    for body in bodies:
        info = body.get("DDBStreamBatchInfo") if isinstance(body, dict) else None
        size = int(info.get("batchSize", 0)) if info else None
        sizes.append(size)
        if equals is None:
            continue
        hit = equals in json.dumps(body)
        if not hit and info:
            hit = any(str(new_image_field(r, field or "")) == str(equals)
                      for r in batch_records(ctx, info))
        if hit:
            matched += 1
            isolated = isolated or size == 1
    return {"queue": url, "messages": len(bodies), "batch_sizes": sizes, "matched": matched,
            "isolated": isolated}
