"""The Redis connection of a shop process (cache and shared breaker state), with short timeouts,
and a guard that remembers a failure for a moment so a dead or hung Redis costs one timeout per
back-off period instead of one per call."""

from __future__ import annotations

import logging
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from reference_app.config import Settings

log = logging.getLogger(__name__)

SOCKET_CONNECT_TIMEOUT_S = 0.25
SOCKET_TIMEOUT_S = 0.5
BACKOFF_S = 1.0


def make_redis(settings: Settings) -> redis.Redis:
    """A redis-py client for settings.redis_url (bytes responses, pooled, short timeouts).

    One immediate retry (a pooled connection may be stale after a Redis restart) instead of
    redis-py's default of three with back-off: callers have fallbacks and must not wait.
    """
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=SOCKET_CONNECT_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
        max_connections=64,
    )


def key_prefix(settings: Settings) -> str:
    """Prefix of every Redis key of this stack (the table prefix, so stacks can share Redis)."""
    return settings.tables.prefix


class RedisGuard:
    """Tracks whether Redis looked healthy recently.

    After an error, `available()` is False for BACKOFF_S seconds; callers skip Redis meanwhile
    (falling back to DynamoDB or process memory). The first error of an outage is logged at
    WARNING with its cause, the recovery at INFO.
    """

    def __init__(self, what: str, backoff_s: float = BACKOFF_S) -> None:
        self.what = what
        self.backoff_s = backoff_s
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._down_until = time.monotonic() + self.backoff_s
            first = not self._down
            self._down = True
        if first:
            log.warning("redis unavailable for %s (%s: %s); falling back", self.what,
                        type(exc).__name__, exc)

    def succeeded(self) -> None:
        if self._down:
            with self._lock:
                was_down, self._down = self._down, False
            if was_down:
                log.info("redis reachable again for %s", self.what)
