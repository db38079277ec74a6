"""Unit tests of the cart OCC repository, against the moto server (tables of their own).

(moto's in-process `mock_aws` is not used: leaving it resets every moto backend of the process,
including the session's moto server.)

A "meddling" client performs another writer's update between our read and our write, so
conflicts happen exactly when the test says, and the retry logic is checked deterministically.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from reference_app.aws import dynamodb_client
from reference_app.config import Settings, TableNames
from reference_app.errors import ApiError
from reference_app.storefront.carts import BACKOFF_CAP_S, CartRepository
from reference_app.tables import create_tables

TABLE = "unit-occ-carts"


@pytest.fixture(scope="module")
def ddb(aws_endpoint: str) -> Iterator[Any]:
    settings = Settings(aws_endpoint_url=aws_endpoint, tables=TableNames("unit-occ-"))
    create_tables(settings)
    yield dynamodb_client(settings)


class Meddler:
    """Wraps the client: before each of our cart writes, while `interruptions` > 0, another
    writer bumps the cart's Version (or sets CheckOut), so our condition fails."""

    def __init__(self, inner: Any, interruptions: int = 0, checkout: bool = False) -> None:
        self.inner = inner
        self.interruptions = interruptions
        self.checkout = checkout
        self.writes = 0

    def _interfere(self, cart_id: str) -> None:
        if self.interruptions <= 0:
            return
        self.interruptions -= 1
        if self.checkout:
            update, values = "SET CheckOut = :t", {":t": {"BOOL": True}}
        else:
            update, values = ("SET Version = if_not_exists(Version, :z) + :one, "
                              "CheckOut = if_not_exists(CheckOut, :f), "
                              "#i = if_not_exists(#i, :m)",
                              {":z": {"N": "0"}, ":one": {"N": "1"}, ":f": {"BOOL": False},
                               ":m": {"M": {}}})
        self.inner.update_item(TableName=TABLE, Key={"CartId": {"S": cart_id}},
                               UpdateExpression=update, ExpressionAttributeValues=values,
                               **({} if self.checkout else
                                  {"ExpressionAttributeNames": {"#i": "Items"}}))

    def put_item(self, **kwargs: Any) -> Any:
        self.writes += 1
        self._interfere(kwargs["Item"]["CartId"]["S"])
        return self.inner.put_item(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        self.writes += 1
        self._interfere(kwargs["Key"]["CartId"]["S"])
        return self.inner.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _repo(client: Any, attempts: int = 8, lines: int = 3, qty: int = 10) -> CartRepository:
    return CartRepository(client, TABLE, max_attempts=attempts, max_lines=lines,
                          max_qty=qty, sleep=lambda _s: None)


def _conflicts(operation: str) -> float:
    return REGISTRY.get_sample_value("shop_cart_occ_conflicts_total",
                                     {"operation": operation}) or 0.0


def test_new_cart_then_updates_bump_the_version(ddb: Any) -> None:
    repo = _repo(ddb)
    first = repo.add_item("c1", "SKU-1", 2)
    assert (first.cart.version, first.cart.items, first.retries) == (1, {"SKU-1": 2}, 0)
    second = repo.add_item("c1", "SKU-1", 3)
    assert (second.cart.version, second.cart.items) == (2, {"SKU-1": 5})
    third = repo.remove_item("c1", "SKU-1", 1)
    assert (third.cart.version, third.cart.items) == (3, {"SKU-1": 4})
    fourth = repo.remove_item("c1", "SKU-1")
    assert (fourth.cart.version, fourth.cart.items) == (4, {})
    assert repo.get("c1") == fourth.cart


def test_conflicts_are_retried_and_counted(ddb: Any) -> None:
    repo = _repo(ddb)
    repo.add_item("c2", "SKU-1", 1)
    before = _conflicts("add_item")
    meddler = Meddler(ddb, interruptions=3)
    result = _repo(meddler).add_item("c2", "SKU-2", 1)
    assert result.retries == 3
    assert meddler.writes == 4
    assert _conflicts("add_item") - before == 3
    # our write landed on top of the other writer's three bumps
    assert result.cart.version == 1 + 3 + 1
    assert result.cart.items == {"SKU-1": 1, "SKU-2": 1}


def test_new_cart_creation_conflict_is_retried(ddb: Any) -> None:
    meddler = Meddler(ddb, interruptions=1)  # someone creates the cart first
    result = _repo(meddler).add_item("c3", "SKU-1", 1)
    assert result.retries == 1
    assert result.cart.items == {"SKU-1": 1}
    assert result.cart.version == 2


def test_gives_up_after_max_attempts(ddb: Any) -> None:
    _repo(ddb).add_item("c4", "SKU-1", 1)
    meddler = Meddler(ddb, interruptions=100)
    with pytest.raises(ApiError) as caught:
        _repo(meddler, attempts=4).add_item("c4", "SKU-2", 1)
    assert (caught.value.status, caught.value.code) == (409, "cart_conflict")
    assert caught.value.headers["X-OCC-Retries"] == "4"
    assert meddler.writes == 4
    stored = _repo(ddb).get("c4")
    assert stored is not None and "SKU-2" not in stored.items


def test_checking_out_cart_is_refused_at_once(ddb: Any) -> None:
    repo = _repo(ddb)
    repo.add_item("c5", "SKU-1", 1)
    meddler = Meddler(ddb, interruptions=1, checkout=True)
    with pytest.raises(ApiError) as caught:
        _repo(meddler).add_item("c5", "SKU-2", 1)
    assert caught.value.code == "cart_checking_out"
    assert caught.value.headers["X-OCC-Retries"] == "1"  # the one conflict that revealed it
    assert meddler.writes == 1
    with pytest.raises(ApiError) as again:
        _repo(meddler).remove_item("c5", "SKU-1")
    assert again.value.code == "cart_checking_out"
    assert meddler.writes == 1  # refused before any write


def test_limits_are_checked_before_writing(ddb: Any) -> None:
    repo = _repo(ddb, lines=2, qty=5)
    repo.add_item("c6", "SKU-1", 5)
    repo.add_item("c6", "SKU-2", 1)
    before = repo.get("c6")
    with pytest.raises(ApiError) as too_many_lines:
        repo.add_item("c6", "SKU-3", 1)
    assert (too_many_lines.value.code, too_many_lines.value.field) == ("cart_limit_exceeded",
                                                                      "sku")
    with pytest.raises(ApiError) as too_many_of_one:
        repo.add_item("c6", "SKU-1", 1)
    assert (too_many_of_one.value.code, too_many_of_one.value.field) == ("cart_limit_exceeded",
                                                                        "qty")
    assert repo.get("c6") == before
    with pytest.raises(ApiError) as not_in_cart:
        repo.remove_item("c6", "SKU-9")
    assert not_in_cart.value.code == "item_not_in_cart"
    with pytest.raises(ApiError) as no_cart:
        repo.remove_item("nobody", "SKU-1")
    assert no_cart.value.code == "cart_not_found"


def test_checkout_begin_commit_and_rollback_conditions(ddb: Any) -> None:
    repo = _repo(ddb)
    cart = repo.add_item("c7", "SKU-1", 2).cart
    ddb.transact_write_items(TransactItems=[repo.begin_checkout_update(cart, "ord-1")])
    begun = repo.get("c7")
    assert begun is not None and begun.checking_out and begun.order_id == "ord-1"
    assert begun.version == cart.version
    assert not repo.commit_checkout("c7", cart.version + 1)  # wrong version
    assert repo.rollback_checkout("c7", cart.version)
    rolled = repo.get("c7")
    assert rolled is not None and not rolled.checking_out and rolled.items == {"SKU-1": 2}
    assert not repo.rollback_checkout("c7", cart.version)  # no longer checking out
    ddb.transact_write_items(TransactItems=[repo.begin_checkout_update(rolled, "ord-2")])
    assert not repo.commit_checkout("c7", rolled.version, order_id="ord-1")  # another order's
    assert repo.commit_checkout("c7", rolled.version, order_id="ord-2")
    committed = repo.get("c7")
    assert committed is not None and committed.items == {} and not committed.checking_out
    assert committed.order_id is None
    # a writer that read before the checkout can no longer write
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        ddb.transact_write_items(TransactItems=[repo.begin_checkout_update(rolled, "ord-3")])


def test_backoff_is_jittered_and_capped() -> None:
    repo = CartRepository(None, "t", 8, 20, 99)
    delays = [repo.backoff_s(attempt) for attempt in range(1, 20)]
    assert all(0 <= d <= BACKOFF_CAP_S for d in delays)
    assert len(set(delays)) > 1


class LostAnswer(Meddler):
    """The first cart update is applied, and then its answer is lost: the caller sees what
    botocore's retry of it sees, ConditionalCheckFailed (the version moved: by our own write)."""

    def update_item(self, **kwargs: Any) -> Any:
        self.writes += 1
        answer = self.inner.update_item(**kwargs)
        if self.writes == 1:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException",
                                         "Message": "The conditional request failed"}},
                              "UpdateItem")
        return answer


def test_an_add_applied_whose_answer_was_lost_is_not_applied_twice(ddb: Any) -> None:
    repo = _repo(ddb)
    repo.add_item("c-lost", "SKU-1", 1)
    result = _repo(LostAnswer(ddb)).add_item("c-lost", "SKU-1", 2)
    assert result.cart.items == {"SKU-1": 3}  # 1 + 2, not 1 + 2 + 2
    assert result.replayed
    again = repo.add_item("c-lost", "SKU-2", 1, token="client-key")
    retried = repo.add_item("c-lost", "SKU-2", 1, token="client-key")  # the client's retry
    assert retried.replayed and retried.cart == again.cart
    assert repo.get("c-lost").items == {"SKU-1": 3, "SKU-2": 1}
