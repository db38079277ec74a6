"""Unit tests of the Redis cache-aside helper (real Redis; and a dead one)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from prometheus_client import REGISTRY

from reference_app.cache import Cache
from reference_app.config import Settings
from reference_app.redis_conn import make_redis
from tests.shop.conftest import free_port


@pytest.fixture
def cache(redis_url: str) -> Iterator[Cache]:
    client = make_redis(Settings(redis_url=f"{redis_url}/3"))
    yield Cache(client, f"c{uuid.uuid4().hex[:6]}-", ttl_s=30)
    client.close()


def _count(name: str, result: str) -> float:
    return REGISTRY.get_sample_value("shop_cache_requests_total",
                                     {"cache": name, "result": result}) or 0.0


class Loader:
    def __init__(self, value: object) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def test_miss_then_hit_with_ttl(cache: Cache) -> None:
    load = Loader({"a": 1})
    hits, misses = _count("unit", "hit"), _count("unit", "miss")
    assert cache.get_or_load("unit", "k", load) == {"a": 1}
    assert cache.get_or_load("unit", "k", load) == {"a": 1}
    assert load.calls == 1
    assert (_count("unit", "hit") - hits, _count("unit", "miss") - misses) == (1, 1)
    ttl = cache.client.ttl(f"{cache.prefix}cache:unit:k")
    assert 0 < ttl <= 30


def test_invalidate_and_none_is_not_cached(cache: Cache) -> None:
    load = Loader(5)
    cache.get_or_load("unit", "k", load)
    assert cache.invalidate("unit", "k")
    cache.get_or_load("unit", "k", load)
    assert load.calls == 2
    nothing = Loader(None)
    cache.get_or_load("unit", "absent", nothing)
    cache.get_or_load("unit", "absent", nothing)
    assert nothing.calls == 2


def test_generational_bump_orphans_every_entry(cache: Cache) -> None:
    one, two = Loader(1), Loader(2)
    cache.get_or_load("search", "a", one, generational=True)
    cache.get_or_load("search", "b", two, generational=True)
    cache.get_or_load("search", "a", one, generational=True)
    assert (one.calls, two.calls) == (1, 1)
    assert cache.bump("search")
    cache.get_or_load("search", "a", one, generational=True)
    cache.get_or_load("search", "b", two, generational=True)
    assert (one.calls, two.calls) == (2, 2)


def test_remember_has_no_ttl(cache: Cache) -> None:
    assert cache.remember("last", "k", {"reviews": 1})
    assert cache.recall("last", "k") == {"reviews": 1}
    assert cache.client.ttl(f"{cache.prefix}cache:last:k") == -1
    assert cache.recall("last", "other") is None


def test_redis_down_falls_through_to_the_loader() -> None:
    dead = make_redis(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    cache = Cache(dead, "x-", ttl_s=30)
    load = Loader({"from": "dynamodb"})
    for _ in range(3):
        assert cache.get_or_load("unit", "k", load) == {"from": "dynamodb"}
    assert load.calls == 3
    assert not cache.invalidate("unit", "k")
    assert cache.recall("last", "k") is None
    assert not cache.guard.available()


def test_undecodable_entry_is_reloaded(cache: Cache) -> None:
    cache.client.set(f"{cache.prefix}cache:unit:bad", b"\xff not json")
    load = Loader(7)
    assert cache.get_or_load("unit", "bad", load) == 7
    assert isinstance(cache.client, redis.Redis)


def test_generational_hit_is_one_round_trip_and_a_racing_bump_wins(cache: Cache) -> None:
    load = Loader(1)
    cache.get_or_load("search", "a", load, generational=True)
    calls: list[str] = []
    real = cache.client.execute_command

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(args[0]))
        return real(*args, **kwargs)

    cache.client.execute_command = counting  # type: ignore[method-assign]
    try:
        assert cache.get_or_load("search", "a", load, generational=True) == 1
    finally:
        del cache.client.execute_command
    assert calls == ["MGET"] and load.calls == 1

    def loader_raced_by_a_bump() -> int:  # an admin write lands while the value is loaded
        cache.bump("search")
        return 2

    assert cache.bump("search")
    assert cache.get_or_load("search", "a", loader_raced_by_a_bump, generational=True) == 2
    # stored under the generation it was read under, which the bump replaced: not served
    assert cache.get_or_load("search", "a", Loader(3), generational=True) == 3
