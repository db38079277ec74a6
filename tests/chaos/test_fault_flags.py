"""reference_app/faults.py, the target side of the SSM contract, against moto's SSM (the
session's moto server; not moto.mock_aws, whose exit resets every backend of the process):
expiry, malformed values, record matching, rates, exceptions, latency, the DynamoDB throttle
hook."""

from __future__ import annotations

import json
import logging
import random
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reference_app.faults import FaultFlags, FaultInjected, FaultSpec, dynamodb_throttle_hook
from tests.conftest import client


@pytest.fixture
def ssm(moto_url: str) -> Any:
    ssm_client = client("ssm", moto_url)
    yield ssm_client
    names = [p["Name"] for page in ssm_client.get_paginator("get_parameters_by_path").paginate(
        Path="/gameday/faults", Recursive=True) for p in page["Parameters"]]
    for start in range(0, len(names), 10):
        ssm_client.delete_parameters(Names=names[start:start + 10])


def _put(ssm: Any, target: str, **value: Any) -> None:
    body = {"fault_id": "f-1", "fault": "lambda-error", "rate": 1.0,
            "expires_at": time.time() + 60, **value}
    ssm.put_parameter(Name=f"/gameday/faults/{target}", Value=json.dumps(body), Type="String",
                      Overwrite=True)


def _flags(ssm: Any, clock: Any = time.time) -> FaultFlags:
    return FaultFlags(lambda: ssm, refresh_s=0.0, clock=clock)


def test_active_flag_is_read_and_acted_on(ssm: Any) -> None:
    _put(ssm, "lambda/shop-inventory", exception="ValueError")
    flags = _flags(ssm)
    spec = flags.active("lambda/shop-inventory")
    assert spec is not None and spec.fault == "lambda-error" and spec.exception == "ValueError"
    assert flags.active("lambda/shop-payment") is None
    with pytest.raises(ValueError) as raised:
        flags.inject_before("lambda/shop-inventory")
    assert isinstance(raised.value, FaultInjected)
    assert raised.value.spec.fault_id == "f-1"


def test_expired_flag_is_ignored_even_if_never_deleted(ssm: Any) -> None:
    now = [1000.0]
    _put(ssm, "service/payments", fault="service-error", expires_at=1010.0)
    flags = _flags(ssm, clock=lambda: now[0])
    assert flags.active("service/payments") is not None
    now[0] = 1010.0
    assert flags.active("service/payments") is None
    flags.inject_before("service/payments")  # no raise


@pytest.mark.parametrize("value", [
    "not json", "[1, 2]", json.dumps({"fault": "nope", "fault_id": "x", "expires_at": 1e12}),
    json.dumps({"fault": "lambda-error", "fault_id": "x"}),  # no expiry
    json.dumps({"fault": "lambda-error", "fault_id": "x", "expires_at": 1e12, "rate": 2}),
    json.dumps({"fault": "service-error", "fault_id": "x", "expires_at": 1e12, "status": 200}),
    json.dumps({"fault": "lambda-error", "fault_id": "x", "expires_at": 1e12,
                "match": {"field": 1}}),
    json.dumps({"fault": "lambda-error", "fault_id": "x", "expires_at": 1e12,
                "match": []}),
])
def test_malformed_flags_are_ignored_and_logged(ssm: Any, value: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    ssm.put_parameter(Name="/gameday/faults/lambda/shop-inventory", Value=value, Type="String")
    _put(ssm, "lambda/shop-payment")
    flags = _flags(ssm)
    with caplog.at_level(logging.ERROR, logger="reference_app.faults"):
        assert flags.active("lambda/shop-inventory") is None
        flags.inject_before("lambda/shop-inventory")
    assert "malformed fault flag" in caplog.text
    assert flags.active("lambda/shop-payment") is not None  # one bad flag spoils nothing else


def test_match_affects_only_the_named_record(ssm: Any) -> None:
    _put(ssm, "lambda/shop-inventory", match={"field": "Owner", "equals": "poison"})
    flags = _flags(ssm)
    poison = {"eventName": "INSERT", "dynamodb": {"NewImage": {"Owner": {"S": "poison"}}}}
    other = {"eventName": "INSERT", "dynamodb": {"NewImage": {"Owner": {"S": "alice"}}}}
    removed = {"eventName": "REMOVE", "dynamodb": {"OldImage": {"Owner": {"S": "poison"}}}}
    flags.inject_before("lambda/shop-inventory", other)
    flags.inject_before("lambda/shop-inventory", removed)
    flags.inject_before("lambda/shop-inventory", None)
    with pytest.raises(RuntimeError):
        flags.inject_before("lambda/shop-inventory", poison)


def test_a_list_match_needs_every_condition(ssm: Any) -> None:
    """A list of conditions, all of which must hold: the poison order's record that asks for a
    reservation (Status PENDING) fails, its cancellation (a MODIFY to CANCELLED of the same
    row) does not — one poison record, as a malformed order is (poison-record experiment)."""
    _put(ssm, "lambda/shop-inventory", match=[{"field": "Owner", "equals": "poison"},
                                              {"field": "Status", "equals": "PENDING"}])
    flags = _flags(ssm)
    pending = {"eventName": "INSERT", "dynamodb": {"NewImage": {"Owner": {"S": "poison"},
                                                                "Status": {"S": "PENDING"}}}}
    cancel = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"Owner": {"S": "poison"},
                                                               "Status": {"S": "CANCELLED"}}}}
    other = {"eventName": "INSERT", "dynamodb": {"NewImage": {"Owner": {"S": "alice"},
                                                              "Status": {"S": "PENDING"}}}}
    flags.inject_before("lambda/shop-inventory", cancel)
    flags.inject_before("lambda/shop-inventory", other)
    with pytest.raises(RuntimeError):
        flags.inject_before("lambda/shop-inventory", pending)


def test_rate_is_honoured_with_a_seeded_rng(ssm: Any) -> None:
    _put(ssm, "lambda/shop-inventory", rate=0.3)
    flags = _flags(ssm)
    spec = flags.active("lambda/shop-inventory")
    assert spec is not None
    rng = random.Random(7)
    failures = sum(flags.should_fail(spec, rng) for _ in range(2000))
    assert 500 < failures < 700


def test_service_error_carries_the_status_and_latency_sleeps(ssm: Any) -> None:
    _put(ssm, "service/payments", fault="service-error", status=502)
    _put(ssm, "service/reviews", fault="service-latency", delay_ms=250)
    flags = _flags(ssm)
    with pytest.raises(FaultInjected) as raised:
        flags.inject_before("service/payments")
    assert raised.value.status == 502
    slept: list[float] = []
    flags.inject_before("service/reviews", sleep=slept.append)
    assert slept == [0.25]


def test_refresh_caches_between_reads(ssm: Any) -> None:
    now = [0.0]
    flags = FaultFlags(lambda: ssm, refresh_s=1.0, clock=lambda: now[0] + time.time())
    assert flags.active("lambda/shop-inventory") is None
    _put(ssm, "lambda/shop-inventory")
    assert flags.active("lambda/shop-inventory") is None  # cached snapshot
    now[0] = 1.5
    assert flags.active("lambda/shop-inventory") is not None


def test_ssm_errors_keep_the_last_snapshot(ssm: Any) -> None:
    _put(ssm, "lambda/shop-inventory")
    calls = {"n": 0}

    class Flaky:
        def get_parameters_by_path(self, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] > 1:
                raise ConnectionError("endpoint down")
            return ssm.get_parameters_by_path(**kwargs)

    flags = FaultFlags(lambda: Flaky(), refresh_s=0.0)
    assert flags.active("lambda/shop-inventory") is not None
    assert flags.active("lambda/shop-inventory") is not None


def test_dynamodb_throttle_hook(ssm: Any) -> None:
    _put(ssm, "dynamodb/storefront", fault="dynamodb-throttle", tables=["shop-orders"])
    flags = _flags(ssm)
    ddb = client("dynamodb", ssm.meta.endpoint_url)
    existing = set(ddb.list_tables()["TableNames"])
    for name in {"shop-orders", "shop-carts"} - existing:
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "S"}])
    ddb.meta.events.register("before-parameter-build.dynamodb",
                             dynamodb_throttle_hook(flags, "dynamodb/storefront"))
    with pytest.raises(ClientError) as raised:
        ddb.put_item(TableName="shop-orders", Item={"Id": {"S": "1"}})
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "shop-carts", "Item": {"Id": {"S": "1"}}}},
            {"Put": {"TableName": "shop-orders", "Item": {"Id": {"S": "2"}}}}])
    ddb.put_item(TableName="shop-carts", Item={"Id": {"S": "1"}})  # another table: untouched


def test_spec_parsing_defaults() -> None:
    spec = FaultSpec.from_json(json.dumps({"fault_id": "x", "fault": "service-error",
                                           "expires_at": 5}))
    assert (spec.rate, spec.status, spec.delay_ms, spec.match) == (1.0, 503, 0, None)


def test_a_slow_refresh_does_not_hold_other_readers() -> None:
    """While one thread re-reads SSM, the others answer from the snapshot they have (on the old
    main every request of the replica queued behind that one SSM call, once a second)."""
    import threading

    first = {"Parameters": [{"Name": "/gameday/faults/service/storefront", "Value": json.dumps(
        {"fault_id": "f-1", "fault": "service-error", "status": 503, "rate": 1.0,
         "expires_at": time.time() + 60})}]}
    in_load, release = threading.Event(), threading.Event()
    calls = {"n": 0}

    class SlowSSM:
        def get_parameters_by_path(self, **_kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] > 1:  # every refresh after the first hangs until released
                in_load.set()
                release.wait(30)
            return first

    now = [0.0]
    flags = FaultFlags(lambda: SlowSSM(), refresh_s=1.0, clock=lambda: now[0])
    assert flags.active("service/storefront") is not None  # the first read is waited for
    now[0] = 5.0  # the snapshot is stale: the next reader refreshes
    refresher = threading.Thread(target=flags.active, args=("service/storefront",))
    refresher.start()
    assert in_load.wait(10)
    answers: list[Any] = []
    reader = threading.Thread(target=lambda: answers.append(flags.active("service/storefront")))
    reader.start()
    reader.join(10)
    stuck = reader.is_alive()
    release.set()
    refresher.join(10)
    assert not stuck, "a reader waited for another thread's SSM refresh"
    assert answers and answers[0] is not None and answers[0].fault == "service-error"
    assert calls["n"] == 2


def test_background_refresh_never_holds_the_request_thread() -> None:
    """The shop's services re-read a stale snapshot on a daemon thread: the request that finds
    it stale answers from the snapshot at once (on the old main that request made the SSM call
    itself, once a second per process, a tail-latency spike under load)."""
    import threading

    value = {"Parameters": [{"Name": "/gameday/faults/service/payments", "Value": json.dumps(
        {"fault_id": "f-2", "fault": "service-latency", "delay_ms": 5, "rate": 1.0,
         "expires_at": time.time() + 60})}]}
    in_load, release = threading.Event(), threading.Event()
    made, calls = [], {"n": 0}

    class SlowSSM:
        def get_parameters_by_path(self, **_kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] > 1:
                in_load.set()
                release.wait(30)
            return value

    def factory() -> SlowSSM:
        made.append(threading.current_thread().name)
        return SlowSSM()

    now = [0.0]
    flags = FaultFlags(factory, refresh_s=1.0, clock=lambda: now[0], background=True)
    flags.warm().join(10)
    assert made == ["fault-flags-warm"] and calls["n"] == 1  # built and read before any request
    now[0] = 1.5  # stale within the last period: steady traffic
    answers: list[Any] = []
    caller = threading.Thread(target=lambda: answers.append(flags.active("service/payments")))
    caller.start()
    caller.join(10)
    stuck = caller.is_alive()
    assert in_load.wait(10), "the stale snapshot was not re-read"
    release.set()
    assert not stuck, "the request thread waited for the SSM refresh"
    assert answers and answers[0] is not None and answers[0].fault == "service-latency"
    wait_for = time.monotonic() + 10
    while calls["n"] < 2 or flags._lock.locked():
        assert time.monotonic() < wait_for, "the refresher never finished"
        time.sleep(0.01)
    assert flags.active("service/payments") is not None and calls["n"] == 2  # fresh again


def test_after_a_quiet_spell_the_first_request_reads_the_flags_it_acts_on(ssm: Any) -> None:
    """A service that saw no request for a while must not act on its old snapshot: a payments
    replica seeing a checkout every few seconds would miss the first seconds of every fault
    (the breaker under a service-error fault then opened late or not at all)."""
    now = [0.0]
    flags = FaultFlags(lambda: ssm, refresh_s=1.0, clock=lambda: now[0] + time.time(),
                       background=True)
    flags.warm().join(10)
    assert flags.active("service/payments") is None
    _put(ssm, "service/payments", fault="service-error")
    now[0] = 3.0  # three periods without a request
    assert flags.active("service/payments") is not None
