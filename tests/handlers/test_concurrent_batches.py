"""run_batch with `concurrency` > 1: a batch's records grouped by item key (and by what they
share), groups at once, each group in stream order; the answer is the one the sequential path
gives for the earliest failed record. No AWS needed: the processors are plain functions."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import pytest

from reference_app.handlers import common
from tests.handlers.test_common import raw_record


def batch(*orders: str) -> dict[str, Any]:
    return {"Records": [raw_record(i, order, "PENDING") for i, order in enumerate(orders)]}


def test_records_of_different_orders_run_at_the_same_time() -> None:
    """Three orders wait for each other at a barrier: one after another, the first would wait
    for the others forever (the barrier breaks) and the batch would fail."""
    barrier = threading.Barrier(3, timeout=10)
    answer = common.run_batch(batch("o1", "o2", "o3"), "fn", lambda ctx: barrier.wait(),
                              concurrency=10)
    assert answer == {"batchItemFailures": []}


def test_the_sequential_path_is_kept_at_concurrency_1() -> None:
    barrier = threading.Barrier(2, timeout=0.5)
    with pytest.raises(threading.BrokenBarrierError):
        common.run_batch(batch("o1", "o2"), "fn", lambda ctx: barrier.wait(), concurrency=1)


def test_records_of_one_order_run_one_at_a_time_in_stream_order() -> None:
    lock = threading.Lock()
    running: dict[str, int] = defaultdict(int)
    most: dict[str, int] = defaultdict(int)
    seen: dict[str, list[str]] = defaultdict(list)

    def process(ctx: common.RecordContext) -> None:
        order = ctx.record.keys["OrderId"]
        with lock:
            running[order] += 1
            most[order] = max(most[order], running[order])
            seen[order].append(ctx.record.sequence_number)
        threading.Event().wait(0.02)  # give another thread of the same order a chance
        with lock:
            running[order] -= 1

    answer = common.run_batch(batch("a", "b", "a", "c", "a", "b"), "fn", process,
                              concurrency=10)
    assert answer == {"batchItemFailures": []}
    assert seen == {"a": ["1000", "1002", "1004"], "b": ["1001", "1005"], "c": ["1003"]}
    assert max(most.values()) == 1


def test_the_earliest_failure_decides_and_its_orders_later_records_wait() -> None:
    ran: list[str] = []
    lock = threading.Lock()

    def process(ctx: common.RecordContext) -> None:
        with lock:
            ran.append(ctx.record.sequence_number)
        if ctx.record.sequence_number in ("1001", "1004"):
            raise RuntimeError(f"boom {ctx.record.sequence_number}")

    answer = common.run_batch(batch("o0", "o1", "o2", "o1", "o3", "o4"), "fn", process,
                              concurrency=10)
    assert answer == {"batchItemFailures": [{"itemIdentifier": str(1000 + i)}
                                            for i in range(1, 6)]}
    assert "1003" not in ran  # o1's second record never ran before its first succeeded
    assert {"1000", "1001", "1002", "1004", "1005"} <= set(ran)


def test_a_failed_first_record_fails_the_invocation_whatever_ran_after_it() -> None:
    def process(ctx: common.RecordContext) -> None:
        if ctx.record.sequence_number == "1000":
            raise RuntimeError("payments down for o0")

    with pytest.raises(RuntimeError, match="payments down for o0"):
        common.run_batch(batch("o0", "o1", "o2"), "fn", process, concurrency=10)


def test_records_sharing_a_resource_are_grouped_transitively_in_stream_order() -> None:
    records = batch("o0", "o1", "o2", "o3", "o4")["Records"]
    parsed = common.parse_batch(records)
    shared = {"o0": ["X"], "o1": ["Y"], "o2": ["X", "Z"], "o3": ["Z"], "o4": []}
    groups = common.ordered_groups(records, parsed, lambda r: shared[r.keys["OrderId"]])
    assert groups == [[0, 2, 3], [1], [4]]
    assert common.ordered_groups(records, parsed) == [[0], [1], [2], [3], [4]]
    # a record whose resources cannot be read is still grouped by its key
    assert common.ordered_groups(records, parsed, lambda r: 1 / 0) == [[0], [1], [2], [3], [4]]


def test_the_concurrency_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(common.CONCURRENCY_ENV, raising=False)
    assert common.record_concurrency() == 10
    monkeypatch.setenv(common.CONCURRENCY_ENV, "3")
    assert common.record_concurrency() == 3
    for bad in ("0", "-1", "lots", "101"):
        monkeypatch.setenv(common.CONCURRENCY_ENV, bad)
        with pytest.raises(ValueError, match=common.CONCURRENCY_ENV):
            common.record_concurrency()
