"""Seeded test data: the same seed replays the same requests per user; another seed does not."""

from __future__ import annotations

import pytest

from loadtests.config import RunConfig
from loadtests.data import UserData, derive_seed
from loadtests.journeys.browser import BrowserUser
from loadtests.journeys.cart_contention import CartContentionUser
from loadtests.journeys.reviewer import ReviewerUser
from loadtests.journeys.shopper import ShopperUser
from loadtests.outcomes import POLICIES
from tests.loadtests.fakes import FakeShop, make_environment, run_user

JOURNEYS = [BrowserUser, ShopperUser, ReviewerUser, CartContentionUser]
ROUTE_NAMES = {name for _method, name in POLICIES}


def sequence(user_class: type, seed: int, steps: int = 40, users_before: int = 0) -> list:
    config = RunConfig(seed=seed, catalog_size=40, order_poll_interval=0.001)
    environment = make_environment(user_class, config)
    for _ in range(users_before):  # earlier users of the same role take indexes 0..n-1
        run_user(user_class, 0, environment=environment)
    _user, client = run_user(user_class, steps, environment=environment)
    return client.calls


@pytest.mark.parametrize("user_class", JOURNEYS, ids=lambda c: c.__name__)
def test_same_seed_same_requests(user_class: type) -> None:
    first, second = sequence(user_class, 42), sequence(user_class, 42)
    assert len(first) > 40
    assert first == second


@pytest.mark.parametrize("user_class", JOURNEYS, ids=lambda c: c.__name__)
def test_other_seed_other_requests(user_class: type) -> None:
    assert sequence(user_class, 42) != sequence(user_class, 43)


@pytest.mark.parametrize("user_class", JOURNEYS, ids=lambda c: c.__name__)
def test_users_of_a_run_differ(user_class: type) -> None:
    assert sequence(user_class, 42) != sequence(user_class, 42, users_before=1)


@pytest.mark.parametrize("user_class", JOURNEYS, ids=lambda c: c.__name__)
def test_requests_are_named_by_route_template(user_class: type) -> None:
    calls = sequence(user_class, 7, steps=60)
    names = {name for _method, name, _path, _body in calls}
    assert names <= ROUTE_NAMES
    for _method, name, path, _body in calls:
        assert "{" not in path, f"{path} was sent with an unfilled template"
        assert name != path or "{" not in name


def test_every_user_signs_up_with_its_own_token() -> None:
    environment, shop = make_environment(ShopperUser), FakeShop()
    users = [run_user(ShopperUser, 0, environment=environment, shop=shop)[0] for _ in range(3)]
    assert len({user.token for user in users}) == 3
    assert [user.index for user in users] == [0, 1, 2]


def test_contention_devices_share_one_shopper() -> None:
    environment = make_environment(CartContentionUser, RunConfig(
        seed=42, catalog_size=40, devices_per_shopper=3))
    shop = FakeShop()
    devices = [run_user(CartContentionUser, 5, environment=environment, shop=shop)[0]
               for _ in range(4)]
    assert len({d.token for d in devices[:3]}) == 1
    assert devices[3].token != devices[0].token
    assert shop.shoppers == 2


def test_shopper_journey_covers_its_routes() -> None:
    _user, client = run_user(ShopperUser, 120)
    names = {(method, name) for method, name, _path, _body in client.calls}
    assert {("POST", "/v1/shoppers"), ("POST", "/v1/carts/{cart_id}/items"),
            ("GET", "/v1/carts/{cart_id}"), ("DELETE", "/v1/carts/{cart_id}/items/{sku}"),
            ("POST", "/v1/carts/{cart_id}/checkout"), ("GET", "/v1/orders/{order_id}"),
            ("GET", "/v1/products/{sku}")} <= names
    assert all(r.verdict == "success" for r in client.responses)


def test_checkouts_are_a_few_percent_of_requests() -> None:
    calls = []
    for index in range(4):
        calls += sequence(ShopperUser, 100 + index, steps=100)
    checkouts = sum(1 for _m, name, _p, _b in calls if name.endswith("/checkout"))
    # shoppers are a fifth of the users; among their own requests checkouts stay rare
    assert 0 < checkouts / len(calls) < 0.1


def test_user_data_streams() -> None:
    a, b = UserData(42, "browser", 0, 40), UserData(42, "browser", 0, 40)
    assert [a.catalog_sku() for _ in range(20)] == [b.catalog_sku() for _ in range(20)]
    assert a.review_text() == b.review_text()
    assert all("SKU-00001" <= a.catalog_sku() <= "SKU-00040" for _ in range(200))
    # think times come from another stream: drawing them does not shift the choices
    c, d = UserData(1, "shopper", 3, 40), UserData(1, "shopper", 3, 40)
    c.think_time(0.1, 1.0)
    assert c.catalog_sku() == d.catalog_sku()
    assert derive_seed(42, "browser", 0) != derive_seed(42, "browser", 1)
    assert derive_seed(42, "browser", 0) != derive_seed(42, "shopper", 0)
    with pytest.raises(ValueError):
        UserData(42, "browser", 0, 0)
