"""The local AWS endpoint behaves like DynamoDB where the saga depends on it: conditional writes
are isolated, and a cancelled transaction does not cut an open stream iterator off."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError

from local_stack.ports import free_port, wait_for_port

pytestmark = pytest.mark.integration


def _server(*extra: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", *extra, "--host", "127.0.0.1", "--port", str(port)]
        if extra[0] == "local_stack.aws_server"
        else [sys.executable, "-m", *extra, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture()
def endpoint() -> Iterator[str]:
    yield from _server("local_stack.aws_server")


def _ddb(url: str) -> object:
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="t", aws_secret_access_key="t")


def _table(ddb: object, name: str) -> str:
    ddb.create_table(  # type: ignore[attr-defined]
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "K", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "K", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]  # type: ignore


def _race(url: str, writers: int = 16, rounds: int = 15) -> int:
    """Writers race to bump one item's Version with OCC; returns how many lost updates."""
    ddb = _ddb(url)
    name = f"race-{os.getpid()}"
    _table(ddb, name)
    ddb.put_item(TableName=name, Item={"K": {"S": "x"}, "Version": {"N": "0"}})  # type: ignore
    wins = 0

    def bump(_: int) -> int:
        client = _ddb(url)
        won = 0
        for _round in range(rounds):
            v = client.get_item(TableName=name, Key={"K": {"S": "x"}},  # type: ignore
                                ConsistentRead=True)["Item"]["Version"]["N"]
            try:
                client.update_item(  # type: ignore[attr-defined]
                    TableName=name, Key={"K": {"S": "x"}},
                    UpdateExpression="SET Version = Version + :one",
                    ConditionExpression="Version = :v",
                    ExpressionAttributeValues={":v": {"N": v}, ":one": {"N": "1"}})
                won += 1
            except ClientError:
                pass
        return won

    with ThreadPoolExecutor(writers) as pool:
        wins = sum(pool.map(bump, range(writers)))
    final = int(ddb.get_item(TableName=name, Key={"K": {"S": "x"}},  # type: ignore
                             ConsistentRead=True)["Item"]["Version"]["N"])
    return wins - final  # > 0: two writers "won" with the same version


def test_conditional_writes_are_isolated(endpoint: str) -> None:
    assert _race(endpoint) == 0


def test_cancelled_transaction_keeps_stream_iterators(endpoint: str) -> None:
    _check_iterator_survives_cancelled_transaction(endpoint)


def test_plain_moto_loses_the_iterator() -> None:
    """Negative control: without the fix, the consumer never sees the write after a cancelled
    transaction (the shard was replaced under its iterator)."""
    for url in _server("moto.server"):
        with pytest.raises(AssertionError):
            _check_iterator_survives_cancelled_transaction(url)


def _check_iterator_survives_cancelled_transaction(endpoint: str) -> None:
    ddb = _ddb(endpoint)
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="t", aws_secret_access_key="t")
    arn = _table(ddb, "tx")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="LATEST")["ShardIterator"]
    ddb.put_item(TableName="tx", Item={"K": {"S": "a"}})  # type: ignore[attr-defined]
    with pytest.raises(ClientError, match="TransactionCanceled"):
        ddb.transact_write_items(TransactItems=[  # type: ignore[attr-defined]
            {"Put": {"TableName": "tx", "Item": {"K": {"S": "b"}}}},
            {"Put": {"TableName": "tx", "Item": {"K": {"S": "a"}},
                     "ConditionExpression": "attribute_not_exists(K)"}},
        ])
    ddb.put_item(TableName="tx", Item={"K": {"S": "c"}})  # type: ignore[attr-defined]
    got = streams.get_records(ShardIterator=iterator)["Records"]
    keys = [r["dynamodb"]["Keys"]["K"]["S"] for r in got]
    # "b" was rolled back: never visible; "c" came after the cancelled transaction: visible
    assert keys == ["a", "c"]
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in got]
    assert seqs == sorted(seqs)
    assert "b" not in {i["K"]["S"] for i in ddb.scan(TableName="tx")["Items"]}  # type: ignore
