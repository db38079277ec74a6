"""Circuit breakers per dependency (payments, reviews), with state shared by all replicas
through Redis, built on pybreaker.

What pybreaker does, and what this module changes (read from pybreaker 1.4's source):

- `CircuitRedisStorage` keeps state, fail counter and `opened_at` in Redis under a namespace,
  so a replica that never saw a failure still reads `open` and — through `CircuitOpenState` —
  rejects at once until `opened_at + reset_timeout`. Kept as is (one namespace per dependency).
- Its `opened_at` is whole epoch seconds, so a breaker could half-open up to 1 s early; stored
  here with millisecond precision instead.
- On a Redis error it logs a traceback per operation and reports `closed` with counter 0, so
  the breaker can never open while Redis is down; here each operation falls back to process
  memory (mirrored on every write) with one log line per outage (RedisGuard). Its constructor
  also fails outright when Redis is down at start; here that is tolerated. When Redis comes
  back empty (restarted by the supervisor), the state this process last saw is written back
  instead of starting again from `closed`, so an open breaker stays open across the restart.
- `CircuitBreaker.call` holds a process-wide lock for the whole guarded call, which would
  serialise every payments call of a replica (and stack up timeouts behind each other); the
  state is in Redis anyway, so calls run unlocked here.
- In `half-open` pybreaker lets every caller through; with a hung dependency every replica's
  threads would each wait a full timeout. Here one trial at a time runs across all replicas
  (a Redis `SET NX PX` permit, local lock when Redis is down); the others are rejected fast.
- The call that trips the breaker fails with its own error (`throw_new_error_on_trip=False`),
  so `CircuitBreakerError` only ever means "rejected without trying".

Failures that count: `DependencyError` (connection error, timeout, 5xx). Anything else (4xx
answers, bugs) does not count. With `breaker_enabled=False` every call goes straight to the
dependency — the negative control of the chaos experiments.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pybreaker
import redis
from flask import current_app

from reference_app.config import Settings
from reference_app.errors import ApiError
from reference_app.metrics import BREAKER_REJECTED, BREAKER_STATE, BREAKER_TRANSITIONS
from reference_app.redis_conn import RedisGuard

log = logging.getLogger(__name__)
T = TypeVar("T")

STATES = ("closed", "open", "half_open")
REGISTRY_KEY = "shop.breakers"


def state_label(state: str | None) -> str:
    """pybreaker's state name as used in metric labels and the admin API (`half_open`)."""
    return (state or "none").replace("-", "_")


class DependencyError(Exception):
    """A dependency call failed in a way that counts against its breaker."""

    def __init__(self, dependency: str, kind: str, message: str,
                 status: int | None = None, maybe_applied: bool = True) -> None:
        super().__init__(f"{dependency}: {message}")
        self.dependency = dependency
        self.kind = kind  # connect | timeout | http_5xx | other
        self.status = status
        # False only when the request certainly never reached the dependency (connection
        # refused, connect timeout); a read timeout or a dropped connection may hide a write
        self.maybe_applied = maybe_applied


class DependencyUnavailable(ApiError):
    """503 `dependency_unavailable` with Retry-After: the call failed or was not tried."""

    def __init__(self, dependency: str, message: str, retry_after_s: int,
                 rejected: bool) -> None:
        super().__init__(503, "dependency_unavailable", message,
                         headers={"Retry-After": str(retry_after_s)})
        self.dependency = dependency
        self.retry_after_s = retry_after_s
        self.rejected = rejected


# -- shared storage -----------------------------------------------------------------------------
class SharedRedisStorage(pybreaker.CircuitRedisStorage):
    """pybreaker's Redis storage with ms-precision `opened_at` and a process-memory fallback."""

    def __init__(self, state: str, redis_object: redis.Redis, namespace: str,
                 guard: RedisGuard) -> None:
        self._guard = guard
        self._memory = pybreaker.CircuitMemoryStorage(state)
        super().__init__(state, redis_object, namespace=namespace, fallback_circuit_state=state)

    def _op(self, operation: Callable[[], T], fallback: Callable[[], T]) -> T:
        if not self._guard.available():
            return fallback()
        try:
            result = operation()
        except redis.RedisError as exc:
            self._guard.failed(exc)
            return fallback()
        self._guard.succeeded()
        return result

    def _initialize_redis_state(self, state: str) -> None:
        def init() -> None:
            pipe = self._redis.pipeline()
            pipe.setnx(self._namespace("fail_counter"), 0)
            pipe.setnx(self._namespace("success_counter"), 0)
            pipe.setnx(self._namespace("state"), state)
            pipe.execute()

        self._op(init, lambda: None)

    # state
    def _get_state(self) -> str:
        def read() -> str:
            raw = self._redis.get(self._namespace("state"))
            if raw is None:  # keys lost (Redis restarted empty): put back this process's view
                return self._restore_from_memory()
            value = raw.decode("utf-8")
            self._memory.state = value
            return value

        return self._op(read, lambda: self._memory.state)

    def _restore_from_memory(self) -> str:
        """Seed an emptied Redis with the state (and `opened_at`) this process last saw, so a
        Redis restart does not close a breaker that was open."""
        state = self._memory.state
        self._initialize_redis_state(state)
        if state == pybreaker.STATE_OPEN and self._memory.opened_at is not None:
            self._set_opened_at(self._memory.opened_at)
        return state

    def _set_state(self, state: str) -> None:
        self._memory.state = state
        self._op(lambda: self._redis.set(self._namespace("state"), str(state)), lambda: None)

    state = property(_get_state, _set_state)

    # counters
    def _incr(self, key: str, local: Callable[[], None]) -> None:
        local()
        self._op(lambda: self._redis.incr(self._namespace(key)), lambda: None)

    def _zero(self, key: str, local: Callable[[], None]) -> None:
        local()
        self._op(lambda: self._redis.set(self._namespace(key), 0), lambda: None)

    def _read_int(self, key: str, local: Callable[[], int]) -> int:
        return self._op(lambda: int(self._redis.get(self._namespace(key)) or 0), local)

    def increment_counter(self) -> None:
        self._incr("fail_counter", self._memory.increment_counter)

    def reset_counter(self) -> None:
        self._zero("fail_counter", self._memory.reset_counter)

    def increment_success_counter(self) -> None:
        self._incr("success_counter", self._memory.increment_success_counter)

    def reset_success_counter(self) -> None:
        self._zero("success_counter", self._memory.reset_success_counter)

    @property
    def counter(self) -> int:
        return self._read_int("fail_counter", lambda: self._memory.counter)

    @property
    def success_counter(self) -> int:
        return self._read_int("success_counter", lambda: self._memory.success_counter)

    # opened_at (epoch seconds with ms precision; only ever moves forward)
    def _get_opened_at(self) -> datetime | None:
        def read() -> datetime | None:
            raw = self._redis.get(self._namespace("opened_at"))
            if not raw:
                return None
            return datetime.fromtimestamp(float(raw), tz=UTC)

        return self._op(read, lambda: self._memory.opened_at)

    def _set_opened_at(self, now: datetime) -> None:
        self._memory.opened_at = now
        key = self._namespace("opened_at")
        stamp = round(now.timestamp(), 3)

        def set_if_later(pipe: Any) -> None:
            current = pipe.get(key)
            pipe.multi()
            if not current or stamp > float(current):
                pipe.set(key, f"{stamp:.3f}")

        self._op(lambda: self._redis.transaction(set_if_later, key), lambda: None)

    opened_at = property(_get_opened_at, _set_opened_at)


class TrialGate:
    """At most one half-open trial call at a time across replicas (Redis permit with a TTL)."""

    _RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
                "return redis.call('del', KEYS[1]) else return 0 end")

    def __init__(self, client: redis.Redis, key: str, ttl_s: float, guard: RedisGuard) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = max(100, int(ttl_s * 1000))
        self.guard = guard
        self._local = threading.Lock()

    def acquire(self) -> str | None:
        """A permit token, or None when another trial is running."""
        token = uuid.uuid4().hex
        if self.guard.available():
            try:
                granted = self.client.set(self.key, token, nx=True, px=self.ttl_ms)
            except redis.RedisError as exc:
                self.guard.failed(exc)
            else:
                self.guard.succeeded()
                return token if granted else None
        return "local:" + token if self._local.acquire(blocking=False) else None

    def release(self, token: str) -> None:
        if token.startswith("local:"):
            self._local.release()
            return
        try:
            self.client.eval(self._RELEASE, 1, self.key, token)
        except redis.RedisError as exc:  # the permit's TTL frees it anyway
            self.guard.failed(exc)


class _GatedHalfOpenState(pybreaker.CircuitHalfOpenState):
    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        gate: TrialGate = self._breaker.trial_gate  # type: ignore[attr-defined]
        token = gate.acquire()
        if token is None:
            raise pybreaker.CircuitBreakerError("half-open: a trial call is already running")
        try:
            return super().call(func, *args, **kwargs)
        finally:
            gate.release(token)


class SharedCircuitBreaker(pybreaker.CircuitBreaker):
    """pybreaker's breaker without the call-wide lock and with a gated half-open state."""

    def __init__(self, *, trial_gate: TrialGate, **kwargs: Any) -> None:
        self.trial_gate = trial_gate
        super().__init__(**kwargs)

    def _create_new_state(self, new_state: str, prev_state: Any = None,
                          notify: bool = False) -> Any:
        if new_state == pybreaker.STATE_HALF_OPEN:
            return _GatedHalfOpenState(self, prev_state=prev_state, notify=notify)
        return super()._create_new_state(new_state, prev_state=prev_state, notify=notify)

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.state.call(func, *args, **kwargs)


def _set_state_gauge(dependency: str, state: str) -> None:
    current = state_label(state)
    for name in STATES:
        BREAKER_STATE.labels(dependency, name).set(1 if name == current else 0)


class _TransitionListener(pybreaker.CircuitBreakerListener):
    """Logs each transition this replica makes or observes, and keeps the metrics current."""

    def __init__(self, dependency: str) -> None:
        self.dependency = dependency

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        old = state_label(old_state.name if old_state is not None else None)
        new = state_label(new_state.name)
        if old == new:
            return
        log.warning("circuit breaker %s: %s -> %s", self.dependency, old, new,
                    extra={"dependency": self.dependency, "from_state": old, "to_state": new})
        BREAKER_TRANSITIONS.labels(self.dependency, old, new).inc()
        _set_state_gauge(self.dependency, new_state.name)


# -- the breaker the services use ---------------------------------------------------------------
class DependencyBreaker:
    """The breaker of one dependency, shared by all replicas through Redis."""

    def __init__(self, dependency: str, settings: Settings, client: redis.Redis,
                 key_prefix: str) -> None:
        self.dependency = dependency
        self.enabled = settings.breaker_enabled
        self.fail_max = settings.breaker_fail_max
        self.reset_timeout_s = settings.breaker_reset_timeout_s
        guard = RedisGuard(f"breaker {dependency}")
        namespace = f"{key_prefix}breaker:{dependency}"
        self.storage = SharedRedisStorage(pybreaker.STATE_CLOSED, client, namespace, guard)
        gate = TrialGate(client, f"{namespace}:pybreaker:trial",
                         ttl_s=2 * settings.dependency_timeout_s + 1, guard=guard)
        self._breaker = SharedCircuitBreaker(
            trial_gate=gate,
            fail_max=settings.breaker_fail_max,
            reset_timeout=settings.breaker_reset_timeout_s,
            exclude=[lambda exc: not isinstance(exc, DependencyError)],
            listeners=[_TransitionListener(dependency)],
            state_storage=self.storage,
            name=dependency,
            throw_new_error_on_trip=False,
        )
        _set_state_gauge(dependency, self._breaker.current_state if self.enabled else "closed")

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`func(*args, **kwargs)` through the breaker. A DependencyError from it, or a
        rejection by the open breaker, becomes DependencyUnavailable (503 + Retry-After)."""
        if not self.enabled:
            try:
                return func(*args, **kwargs)
            except DependencyError as exc:
                raise DependencyUnavailable(self.dependency, str(exc), 1, rejected=False) from exc
        try:
            return self._breaker.call(func, *args, **kwargs)
        except pybreaker.CircuitBreakerError as exc:
            BREAKER_REJECTED.labels(self.dependency).inc()
            raise DependencyUnavailable(
                self.dependency, f"{self.dependency} is unavailable (circuit breaker open)",
                self.retry_after_s(), rejected=True) from exc
        except DependencyError as exc:
            raise DependencyUnavailable(self.dependency, str(exc), self.retry_after_s(),
                                        rejected=False) from exc

    def reject_if_open(self) -> None:
        """Raise what `call` would raise for a rejected call when the breaker is open and not
        yet due to half-open, without calling anything (lets a caller skip work whose only
        purpose is that call)."""
        if not self.enabled:
            return
        remaining = self.seconds_until_half_open()
        if remaining is not None and remaining > 0:
            BREAKER_REJECTED.labels(self.dependency).inc()
            raise DependencyUnavailable(
                self.dependency, f"{self.dependency} is unavailable (circuit breaker open)",
                self.retry_after_s(), rejected=True)

    def seconds_until_half_open(self) -> float | None:
        """Seconds left in the open state (0 when due), None unless open."""
        if self._breaker.current_state != pybreaker.STATE_OPEN:
            return None
        opened_at = self.storage.opened_at
        if opened_at is None:
            return 0.0
        return max(0.0, opened_at.timestamp() + self.reset_timeout_s - time.time())

    def retry_after_s(self) -> int:
        """Retry-After for a 503: seconds until the reset timeout ends, at least 1."""
        remaining = self.seconds_until_half_open()
        return max(1, math.ceil(remaining)) if remaining is not None else 1

    def sync(self) -> str:
        """Refresh this replica's view from the shared state (fires listeners on a change)."""
        return state_label(self._breaker.state.name)

    def info(self) -> dict[str, Any]:
        """State for the admin endpoint."""
        if not self.enabled:
            return {"dependency": self.dependency, "enabled": False, "state": "closed",
                    "fail_counter": 0, "fail_max": self.fail_max,
                    "reset_timeout_s": self.reset_timeout_s, "opened_at": None,
                    "seconds_until_half_open": None}
        state = self.sync()
        opened_at = self.storage.opened_at
        remaining = self.seconds_until_half_open()
        return {
            "dependency": self.dependency,
            "enabled": True,
            "state": state,
            "fail_counter": self._breaker.fail_counter,
            "fail_max": self.fail_max,
            "reset_timeout_s": self.reset_timeout_s,
            "opened_at": round(opened_at.timestamp(), 3) if opened_at else None,
            "seconds_until_half_open": round(remaining, 3) if remaining is not None else None,
        }


class BreakerRegistry:
    """The breakers of one app, by dependency name."""

    def __init__(self, settings: Settings, client: redis.Redis, key_prefix: str,
                 dependencies: tuple[str, ...]) -> None:
        self.breakers = {name: DependencyBreaker(name, settings, client, key_prefix)
                         for name in dependencies}

    def __getitem__(self, dependency: str) -> DependencyBreaker:
        return self.breakers[dependency]

    def states(self) -> dict[str, dict[str, Any]]:
        return {name: breaker.info() for name, breaker in self.breakers.items()}

    def sync_all(self) -> None:
        for breaker in self.breakers.values():
            if breaker.enabled:
                breaker.sync()


def breaker_states(registry: BreakerRegistry | None = None) -> dict[str, dict[str, Any]]:
    """State of every breaker (of `registry`, default the current Flask app's)."""
    if registry is None:
        registry = current_app.extensions[REGISTRY_KEY]
    return registry.states()
