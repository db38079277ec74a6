"""What every simulated visitor shares: its seeded data, its shopper token, seeded task choice.

Each user signs up with `POST /v1/shoppers` when it starts and sends its token on every
request. Its index (0, 1, 2... per role, reset at each test start) and the run seed give it
its own UserData; its TaskSet picks the next task with that user's RNG (not the global
`random` Locust uses), so the same seed replays the same sequence of requests per user.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, ClassVar

from locust import TaskSet
from locust.contrib.fasthttp import FastHttpUser

from loadtests.calls import Reply, call, path_of
from loadtests.config import RunConfig, run_config
from loadtests.data import DEFAULT_CATALOG_SIZE, UserData
from loadtests.outcomes import PRODUCT, SEARCH, SHOPPERS, WEEKLY

log = logging.getLogger("loadtests.journeys")
_INDEX_ATTR = "_gameday_user_indexes"


def next_user_index(environment: Any, role: str) -> int:
    """0, 1, 2... for each role, in spawn order; reset_user_indexes() at test start."""
    indexes = getattr(environment, _INDEX_ATTR, None)
    if indexes is None:
        indexes = {}
        setattr(environment, _INDEX_ATTR, indexes)
    index = indexes.get(role, 0)
    indexes[role] = index + 1
    return index


def reset_user_indexes(environment: Any) -> None:
    setattr(environment, _INDEX_ATTR, {})


def field_of(body: Any, *names: str) -> Any:
    """The first of `names` present in a JSON object (the API's snake_case, else PascalCase)."""
    if not isinstance(body, dict):
        return None
    for name in names:
        if name in body and body[name] is not None:
            return body[name]
    return None


def items_of(body: Any) -> list[Any]:
    items = field_of(body, "items", "Items")
    return items if isinstance(items, list) else []


def sku_of(item: Any) -> str | None:
    value = field_of(item, "sku", "product_id", "ProductId", "Sku")
    return str(value) if value else None


def skus_of(items: Iterable[Any]) -> list[str]:
    return [sku for sku in (sku_of(item) for item in items) if sku]


def words_of(item: Any) -> list[str]:
    """Texts of a product worth searching for: its name and keywords."""
    texts = [str(field_of(item, "name", "Name") or "")]
    keywords = field_of(item, "keywords", "Keywords")
    if isinstance(keywords, list):
        texts += [str(k) for k in keywords]
    return texts


class SeededTaskSet(TaskSet):
    """A TaskSet whose weighted task choice uses the user's own RNG."""

    def get_next_task(self) -> Any:
        if not self.tasks:
            raise RuntimeError(f"{type(self).__name__} has no tasks")
        return self.user.data.rng.choice(self.tasks)


class ShopUser(FastHttpUser):
    """Base class of the journeys: seeded data, sign-up, think time, shared browsing steps."""

    abstract = True
    role: ClassVar[str] = "user"

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.run_config: RunConfig = run_config(environment)
        self.index = next_user_index(environment, self.role)
        runner = getattr(environment, "runner", None)
        worker = int(getattr(runner, "worker_index", 0) or 0)
        catalog = self.run_config.catalog_size or DEFAULT_CATALOG_SIZE
        self.data = UserData(self.run_config.seed, self.role, self.index, catalog, worker)
        self.token: str | None = None
        self.shopper_id: str | None = None
        self._requests = 0

    def wait_time(self) -> float:
        low, high = self.run_config.think_time
        return self.data.think_time(low, high)

    def next_correlation_id(self) -> str:
        self._requests += 1
        return f"lt-{self.role}-{self.index}-{self._requests}"

    def on_start(self) -> None:
        self.sign_up()

    # -- steps shared by several journeys ------------------------------------------------
    def sign_up(self) -> bool:
        reply = call(self, "POST", SHOPPERS, SHOPPERS, json={"name": self.data.shopper_name()},
                     auth=False)
        self.adopt_shopper(reply)
        return self.token is not None

    def adopt_shopper(self, reply: Reply) -> None:
        if reply.ok:
            self.shopper_id = field_of(reply.body, "shopper_id", "ShopperId")
            self.token = field_of(reply.body, "token", "Token")

    def search(self) -> Reply:
        query = {"q": self.data.search_term(), "limit": self.data.search_limit()}
        reply = call(self, "GET", SEARCH, path_of(SEARCH, query))
        self.learn(items_of(reply.body))
        return reply

    def weekly_products(self) -> Reply:
        reply = call(self, "GET", WEEKLY, WEEKLY)
        self.learn(items_of(reply.body))
        return reply

    def product_detail(self, sku: str | None = None) -> Reply:
        sku = sku or self.data.sku()
        reply = call(self, "GET", PRODUCT, path_of(PRODUCT, sku=sku))
        if reply.ok:
            self.data.learn_words(words_of(reply.body))
        return reply

    def learn(self, items: list[Any]) -> None:
        self.data.remember_skus(skus_of(items))
        for item in items:
            self.data.learn_words(words_of(item))
