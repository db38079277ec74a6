"""Cache-aside over Redis with a TTL and explicit invalidation.

`get_or_load(cache, key, loader)` answers from Redis when it can and otherwise calls `loader`
(DynamoDB) and stores the result for ttl seconds. Every lookup counts as a hit or a miss in
`shop_cache_requests_total{cache, result}`. Redis being down or slow never fails a read: the
error is logged once per outage (RedisGuard) and the loader answers.

Caches whose entries cannot be listed for deletion (search results, the weekly page) are
*generational*: each entry is stored with the generation number it was loaded under, and
`bump(cache)` increments the number, which makes every older entry a miss at once (it is
overwritten at its next load, or expires by TTL). A lookup reads the generation and the entry
in one MGET, so a generational hit costs one Redis round trip like any other (it was two: GET
the generation, then GET a key that embedded it). An entry loaded under a generation that a
concurrent bump has already replaced is stored under the old number, so it is never served.

`remember`/`recall` keep values without TTL (e.g. the last known review counts used as a
fallback when the reviews service is down).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from reference_app.metrics import CACHE_REQUESTS
from reference_app.redis_conn import RedisGuard

log = logging.getLogger(__name__)
T = TypeVar("T")


class Cache:
    """Cache-aside helper bound to one Redis client and key prefix."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_s: int,
                 guard: RedisGuard | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.guard = guard or RedisGuard("cache")

    # -- keys -------------------------------------------------------------------------------
    def _key(self, cache: str, key: str) -> str:
        return f"{self.prefix}cache:{cache}:{key}"

    def _generation_key(self, cache: str) -> str:
        return f"{self.prefix}cache-gen:{cache}"

    # -- guarded Redis calls ----------------------------------------------------------------
    def _redis(self, op: Callable[[], T]) -> tuple[bool, T | None]:
        """Run one Redis operation; (False, None) when Redis is known down or fails now."""
        if not self.guard.available():
            return False, None
        try:
            result = op()
        except redis.RedisError as exc:
            self.guard.failed(exc)
            return False, None
        self.guard.succeeded()
        return True, result

    def _lookup(self, cache: str, full_key: str,
                generational: bool) -> tuple[bool, Any, int | None]:
        """(hit, value, generation) of one entry in one round trip; generation is None when
        Redis could not be read (then nothing is stored either)."""
        if not generational:
            ok, raw = self._redis(lambda: self.client.get(full_key))
            generation: int | None = 0 if ok else None
        else:
            ok, pair = self._redis(
                lambda: self.client.mget([self._generation_key(cache), full_key]))
            if not ok or pair is None:
                return False, None, None
            generation, raw = int(pair[0] or 0), pair[1]
        if not ok or raw is None:
            return False, None, generation
        try:
            value = json.loads(raw)
        except ValueError:
            log.warning("dropping undecodable cache entry %s", full_key)
            return False, None, generation
        if not generational:
            return True, value, generation
        if isinstance(value, dict) and value.get("g") == generation and "v" in value:
            return True, value["v"], generation
        return False, None, generation  # loaded under an older generation: a miss

    # -- public API -------------------------------------------------------------------------
    def get_or_load(self, cache: str, key: str, loader: Callable[[], T | None],
                    ttl_s: int | None = None, generational: bool = False) -> T | None:
        """The cached value of (cache, key), else `loader()` stored for ttl_s (None is never
        stored). Counts one hit or miss."""
        full_key = self._key(cache, key)
        hit, cached, generation = self._lookup(cache, full_key, generational)
        if hit:
            CACHE_REQUESTS.labels(cache, "hit").inc()
            return cached
        CACHE_REQUESTS.labels(cache, "miss").inc()
        value = loader()
        if value is not None and generation is not None:
            stored = {"g": generation, "v": value} if generational else value
            payload = json.dumps(stored, separators=(",", ":"))
            self._redis(lambda: self.client.set(full_key, payload, ex=ttl_s or self.ttl_s))
        return value

    def invalidate(self, cache: str, key: str) -> bool:
        """Delete one entry; False when Redis could not be reached (the TTL still bounds it)."""
        ok, _ = self._redis(lambda: self.client.delete(self._key(cache, key)))
        return ok

    def bump(self, cache: str) -> bool:
        """Invalidate every entry of a generational cache."""
        ok, _ = self._redis(lambda: self.client.incr(self._generation_key(cache)))
        return ok

    def remember(self, name: str, key: str, value: Any) -> bool:
        """Store a value without TTL (a fallback copy)."""
        payload = json.dumps(value, separators=(",", ":"))
        ok, _ = self._redis(lambda: self.client.set(self._key(name, key), payload))
        return ok

    def recall(self, name: str, key: str) -> Any | None:
        """A value stored by `remember`, or None (absent, undecodable or Redis down)."""
        ok, raw = self._redis(lambda: self.client.get(self._key(name, key)))
        if not ok or raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None
