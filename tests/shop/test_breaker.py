"""Unit tests of the shared circuit breaker with a real Redis and fake callables."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from prometheus_client import REGISTRY

from reference_app.breaker import (
    DependencyBreaker,
    DependencyError,
    DependencyUnavailable,
)
from reference_app.config import Settings
from reference_app.redis_conn import make_redis
from tests.shop.conftest import free_port

RESET_S = 0.5


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(f"{redis_url}/2", socket_timeout=1)
    yield conn
    conn.close()


@pytest.fixture
def make_breaker(client: redis.Redis) -> Callable[..., DependencyBreaker]:
    """Breakers ("replicas") sharing one fresh namespace."""
    prefix = f"unit-{uuid.uuid4().hex[:8]}:"

    def make(enabled: bool = True, fail_max: int = 3, conn: redis.Redis | None = None,
             dependency: str = "payments") -> DependencyBreaker:
        settings = Settings(breaker_enabled=enabled, breaker_fail_max=fail_max,
                            breaker_reset_timeout_s=RESET_S, dependency_timeout_s=0.5)
        return DependencyBreaker(dependency, settings, conn or client, prefix)

    return make


class Fake:
    """A dependency call that fails (DependencyError) while `failing`, counting calls."""

    def __init__(self, failing: bool = True, delay_s: float = 0.0) -> None:
        self.failing = failing
        self.delay_s = delay_s
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.failing:
            raise DependencyError("payments", "timeout", "fake timeout")
        return "ok"


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _fail(breaker: DependencyBreaker, fake: Fake, times: int) -> list[DependencyUnavailable]:
    errors = []
    for _ in range(times):
        with pytest.raises(DependencyUnavailable) as caught:
            breaker.call(fake)
        errors.append(caught.value)
    return errors


def test_opens_after_fail_max_and_rejects_without_calling(
        make_breaker: Callable[..., DependencyBreaker]) -> None:
    breaker = make_breaker(fail_max=3)
    fake = Fake()
    errors = _fail(breaker, fake, 3)
    assert fake.calls == 3
    assert not any(e.rejected for e in errors)  # tried and failed, not rejected
    assert breaker.info()["state"] == "open"
    rejected_before = _sample("shop_circuit_breaker_rejected_total", {"dependency": "payments"})
    t0 = time.perf_counter()
    [rejection] = _fail(breaker, fake, 1)
    assert time.perf_counter() - t0 < 0.1
    assert fake.calls == 3
    assert rejection.rejected and rejection.status == 503
    assert rejection.code == "dependency_unavailable"
    assert int(rejection.headers["Retry-After"]) >= 1
    assert _sample("shop_circuit_breaker_rejected_total",
                   {"dependency": "payments"}) == rejected_before + 1


def test_a_replica_that_never_failed_rejects_fast(
        make_breaker: Callable[..., DependencyBreaker]) -> None:
    replica_a, replica_b = make_breaker(), make_breaker()
    assert replica_b.info()["state"] == "closed"
    _fail(replica_a, Fake(), 3)
    untouched = Fake(failing=False)
    [rejection] = _fail(replica_b, untouched, 1)
    assert rejection.rejected
    assert untouched.calls == 0
    info = replica_b.info()
    assert info["state"] == "open" and info["fail_counter"] >= 3
    assert 0 < info["seconds_until_half_open"] <= RESET_S
    assert info["opened_at"] == pytest.approx(time.time(), abs=2)


def test_half_open_trial_success_closes_for_every_replica(
        make_breaker: Callable[..., DependencyBreaker]) -> None:
    replica_a, replica_b = make_breaker(), make_breaker()
    _fail(replica_a, Fake(), 3)
    time.sleep(RESET_S + 0.05)
    healthy = Fake(failing=False)
    assert replica_b.call(healthy) == "ok"  # the trial call
    assert healthy.calls == 1
    assert replica_a.info()["state"] == "closed"
    assert replica_a.call(healthy) == "ok"


def test_half_open_trial_failure_reopens(make_breaker: Callable[..., DependencyBreaker]) -> None:
    breaker = make_breaker()
    fake = Fake()
    _fail(breaker, fake, 3)
    first_open = breaker.info()["opened_at"]
    time.sleep(RESET_S + 0.05)
    [trial] = _fail(breaker, fake, 1)
    assert not trial.rejected and fake.calls == 4
    info = breaker.info()
    assert info["state"] == "open" and info["opened_at"] > first_open
    [rejection] = _fail(breaker, fake, 1)
    assert rejection.rejected and fake.calls == 4


def test_one_trial_at_a_time_across_replicas(
        make_breaker: Callable[..., DependencyBreaker]) -> None:
    replica_a, replica_b = make_breaker(), make_breaker()
    _fail(replica_a, Fake(), 3)
    time.sleep(RESET_S + 0.05)
    slow = Fake(failing=False, delay_s=0.4)
    trial = threading.Thread(target=replica_a.call, args=(slow,))
    trial.start()
    try:
        time.sleep(0.1)  # the trial is running
        other = Fake(failing=False)
        [rejection] = _fail(replica_b, other, 1)
        assert rejection.rejected and other.calls == 0
    finally:
        trial.join()
    assert slow.calls == 1
    assert replica_b.info()["state"] == "closed"


def test_client_errors_do_not_count(make_breaker: Callable[..., DependencyBreaker]) -> None:
    breaker = make_breaker(fail_max=2)

    def bad_request() -> None:
        raise ValueError("a 4xx: our request was wrong")

    for _ in range(5):
        with pytest.raises(ValueError):
            breaker.call(bad_request)
    assert breaker.info()["state"] == "closed"
    assert breaker.info()["fail_counter"] == 0


def test_success_resets_the_failure_count(make_breaker: Callable[..., DependencyBreaker]) -> None:
    breaker = make_breaker(fail_max=3)
    fake = Fake()
    _fail(breaker, fake, 2)
    fake.failing = False
    breaker.call(fake)
    fake.failing = True
    _fail(breaker, fake, 2)
    assert breaker.info()["state"] == "closed"


def test_calls_are_not_serialised(make_breaker: Callable[..., DependencyBreaker]) -> None:
    breaker = make_breaker()
    slow = Fake(failing=False, delay_s=0.3)
    threads = [threading.Thread(target=breaker.call, args=(slow,)) for _ in range(4)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert slow.calls == 4
    assert time.perf_counter() - t0 < 0.3 * 4 * 0.75  # far from 4 calls in a row


def test_disabled_breaker_never_opens(make_breaker: Callable[..., DependencyBreaker]) -> None:
    breaker = make_breaker(enabled=False, fail_max=2)
    fake = Fake()
    errors = _fail(breaker, fake, 6)
    assert fake.calls == 6  # every call reached the dependency
    assert not any(e.rejected for e in errors)
    assert all(e.headers["Retry-After"] == "1" for e in errors)
    fake.failing = False
    assert breaker.call(fake) == "ok"
    assert breaker.info() | {"state": "closed", "enabled": False} == breaker.info()


def test_transitions_are_logged_and_measured(
        make_breaker: Callable[..., DependencyBreaker], caplog: pytest.LogCaptureFixture) -> None:
    dependency = f"dep{uuid.uuid4().hex[:6]}"
    breaker = make_breaker(dependency=dependency)
    caplog.set_level(logging.WARNING, logger="reference_app.breaker")
    _fail(breaker, Fake(), 3)
    time.sleep(RESET_S + 0.05)
    breaker.call(Fake(failing=False))
    moves = [(r.from_state, r.to_state) for r in caplog.records  # type: ignore[attr-defined]
             if getattr(r, "dependency", None) == dependency]
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    for old, new in moves:
        assert _sample("shop_circuit_breaker_transitions_total",
                       {"dependency": dependency, "from_state": old, "to_state": new}) == 1
    states = {s: _sample("shop_circuit_breaker_state", {"dependency": dependency, "state": s})
              for s in ("closed", "open", "half_open")}
    assert states == {"closed": 1, "open": 0, "half_open": 0}


def test_redis_down_falls_back_to_process_memory(
        make_breaker: Callable[..., DependencyBreaker]) -> None:
    dead = make_redis(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    breaker = make_breaker(conn=dead)  # constructing must not fail either
    fake = Fake()
    _fail(breaker, fake, 3)
    [rejection] = _fail(breaker, fake, 1)
    assert rejection.rejected and fake.calls == 3
    time.sleep(RESET_S + 0.05)
    fake.failing = False
    assert breaker.call(fake) == "ok"
    assert breaker.info()["state"] == "closed"


def test_state_survives_in_redis_for_a_new_process(
        make_breaker: Callable[..., DependencyBreaker], client: redis.Redis) -> None:
    _fail(make_breaker(), Fake(), 3)
    restarted = make_breaker()  # e.g. a replaced replica
    assert restarted.info()["state"] == "open"
    keys = {k.decode() for k in client.keys("unit-*breaker:payments:pybreaker:*")}
    assert any(k.endswith(":state") for k in keys) and any(k.endswith(":opened_at") for k in keys)




def test_an_open_breaker_stays_open_when_redis_restarts_empty(
        make_breaker: Callable[..., DependencyBreaker], client: redis.Redis) -> None:
    breaker = make_breaker()
    fake = Fake()
    _fail(breaker, fake, 3)
    assert breaker.info()["state"] == "open"
    keys = client.keys(breaker.storage._namespace("*"))
    assert keys
    client.delete(*keys)  # what a restarted, empty Redis holds
    [rejection] = _fail(breaker, fake, 1)
    assert rejection.rejected and fake.calls == 3  # not tried: still open, as before
    assert client.get(breaker.storage._namespace("state")) == b"open"
