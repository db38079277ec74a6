"""Redis dying under load is a fault the stack survives: the supervisor brings it back on the
same port, the shop keeps answering meanwhile (cache-aside falls back to DynamoDB, the breakers
to process memory) and uses Redis again within 10 s of its return.

The negative control is the stack as it was: Redis in a group whose death stopped everything
(`restart=False`), which this test fails on (the stack exits and nothing is replaced)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from chaos.context import ChaosContext
from chaos.load.builtin import BuiltinLoad, discover_skus
from chaos.probes.prometheus import scrape, total
from tests.conftest import RunningStack, start_stack, wait_until

pytestmark = pytest.mark.integration

RECOVERY_S = 10.0  # the shop's promise (docs/shop.md): Redis used again within 10 s


def cache_hits(stack: RunningStack) -> float | None:
    """Cache hits counted by every live storefront replica (each has its own /metrics); None
    when a replica, busy with the load, did not answer its scrape within 5 s (the callers poll
    again: a partial sum would make "more hits than before" pass for the wrong reason)."""
    hits = 0.0
    for replica in stack.reload()["services"]["storefront"]["replicas"]:
        try:
            samples = scrape(f"http://127.0.0.1:{replica['port']}/metrics", timeout_s=5.0)
        except requests.RequestException:
            return None
        hits += total(samples, "shop_cache_requests_total", {"result": "hit"})
    return hits


def _answered(hits: float | None) -> list[float] | None:
    """A truthy wrapper for wait_until (0 hits is an answer too)."""
    return None if hits is None else [hits]


def more_hits_than(stack: RunningStack, before: float) -> bool:
    hits = cache_hits(stack)
    return hits is not None and hits > before


def _replaced(stack: RunningStack) -> dict[str, Any] | None:
    """The supervisor's `replaced` event for Redis; fails at once if the stack has stopped."""
    if stack.proc.poll() is not None:
        pytest.fail(f"the stack stopped (exit {stack.proc.returncode}) after Redis died:\n"
                    f"{stack.log_path.read_text()[-2000:]}")
    events = [e for e in stack.events() if e["kind"] == "replaced" and e["process"] == "redis"]
    return events[0] if events else None


def test_redis_killed_under_load_comes_back_and_is_used_again(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, "--replace-delay", "0.5")
    load: BuiltinLoad | None = None
    try:
        skus = discover_skus(ChaosContext.load(stack.state_dir), limit=4)
        load = BuiltinLoad(stack.urls["storefront"], skus, users=3, think_time_s=0.05, seed=7)
        load.start()
        wait_until(lambda: more_hits_than(stack, 0.0), 30, 0.5, "cache hits before the kill")

        victim = stack.replica("redis")
        os.kill(victim["pid"], signal.SIGKILL)
        wait_until(lambda: any(e["kind"] == "died" and e["process"] == "redis"
                               for e in stack.events()), 10, what="the supervisor to see it")
        # Redis is gone: no hit can be counted after this
        hits_while_down = wait_until(lambda: _answered(cache_hits(stack)), 15, 0.2,
                                     "a scrape of every replica")[0]
        replaced = wait_until(lambda: _replaced(stack), 30, what="Redis to be replaced")
        back_at = float(replaced["ts"])
        wait_until(lambda: more_hits_than(stack, hits_while_down),
                   max(0.5, back_at + RECOVERY_S - time.time()), 0.2,
                   f"the shop to use Redis again within {RECOVERY_S:.0f} s of its return")
        print(f"shop used Redis again {time.time() - back_at:.2f} s after its return "
              f"(replaced {replaced['seconds']} s after its death)")
        assert stack.proc.poll() is None, "the stack stopped"
        fresh = stack.replica("redis")
        assert fresh["alive"] and fresh["pid"] != victim["pid"]
        assert fresh["port"] == victim["port"]  # same URL for every client
        # the breakers' shared state is back in Redis too (checkouts keep going through them)
        client = redis.Redis.from_url(stack.urls["redis"], socket_timeout=2)
        wait_until(lambda: client.keys("*breaker:payments:*state"), 10, 0.2,
                   "the payments breaker's state in the new Redis")
        client.close()
        # a little more load on the new Redis, and enough requests in all to judge (counted,
        # not timed: a loaded machine makes fewer requests per second)
        enough = len(load.recorder.snapshot()) + 10
        wait_until(lambda: len(load.recorder.snapshot()) > max(enough, 50), 60, 0.2,
                   "more requests after Redis's return")
    finally:
        if load is not None:
            load.stop()
        code = stack.stop()
    assert code == 0, stack.log_path.read_text()[-3000:]
    records = load.recorder.snapshot()
    assert len(records) > 50, f"too little load to tell: {len(records)} requests"
    bad = [r for r in records
           if r.status == 0 or (r.status >= 500 and not (r.status == 503 and r.retry_after))]
    assert not bad, f"{len(bad)} of {len(records)} requests failed, e.g. {bad[:3]}"
