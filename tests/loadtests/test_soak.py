"""The soak shape and its recorder (loadtests.soak) on a fake target, and the drift verdicts."""

from __future__ import annotations

import json

import pytest

from loadtests.shapes import SoakShape, build_shape
from loadtests.soak import DRIFT_LIMIT, SoakRecorder, growth, window_buckets
from tests.loadtests.fake_target import FakeClock, FakeTarget


def soak(target: FakeTarget, users: int = 20, duration_s: float = 65,
         bucket_s: float = 10) -> SoakShape:
    clock = FakeClock()
    shape = SoakShape(users, float(users), duration_s, bucket_s, clock=clock,
                      stats=lambda: target.stats, epoch=lambda: 1_000_000 + clock.now)
    while (tick := shape.tick()) is not None:
        assert tick == (users, float(users))  # steady
        target.set_users(tick[0])
        target.run_second()
        clock.now += 1
    return shape


def test_steady_load_in_buckets_with_no_drift() -> None:
    shape = soak(FakeTarget(capacity_rps=1000, think_s=0.5))
    described = json.loads(json.dumps(shape.describe()))
    buckets = described["buckets"]
    # six full buckets of 10 s and the last, partial one (60..65 s)
    assert [(b["start_s"], b["end_s"]) for b in buckets] == \
        [(10.0 * i, 10.0 * (i + 1)) for i in range(6)] + [(60.0, 65.0)]
    assert all(b["rps"] == pytest.approx(40) for b in buckets)
    assert all(b["users"] == 20 for b in buckets)
    assert buckets[0]["started_at"] == 1_000_000 and buckets[-1]["ended_at"] == 1_000_065
    assert sum(b["requests"] for b in buckets) == 65 * 40
    drift = described["drift"]
    assert drift["buckets_per_window"] == 2 and drift["window_s"] == 20  # a third of 6
    assert drift["throughput_change"] == pytest.approx(0) and drift["within"]
    assert drift["limit"] == DRIFT_LIMIT


def test_a_slowing_shop_drifts_out_of_bounds() -> None:
    # the negative control: +2 % of the base latency every second
    shape = soak(FakeTarget(capacity_rps=1000, think_s=0.5, slowdown_per_s=0.02))
    drift = shape.describe()["drift"]
    assert drift["p99_change"] > DRIFT_LIMIT and not drift["within"]
    p99s = [b["p99_ms"] for b in shape.describe()["buckets"]]
    assert p99s == sorted(p99s) and p99s[-1] > p99s[0]


def test_drift_windows_are_five_minutes_on_a_long_run() -> None:
    assert window_buckets(30, 60, 300) == 5
    assert window_buckets(6, 60, 300) == 2
    assert window_buckets(2, 10, 300) == 1


def test_growth_over_the_last_window() -> None:
    flat = [(t, 100.0) for t in range(0, 1801, 60)]
    assert growth(flat)["within"] and growth(flat)["window_s"] == 1200
    leaking = [(t, 100.0 + t / 10) for t in range(0, 1801, 60)]  # +6 MB/min on 100 MB
    result = growth(leaking)
    assert result["from"] == 160.0 and result["to"] == 280.0 and not result["within"]
    short = [(t, 100.0 + t) for t in range(0, 61, 10)]  # a 1-minute run: its second half
    assert growth(short)["window_s"] == 30 and growth(short)["from"] == 130.0
    assert growth([(0, 1.0)]) is None


def test_a_recorder_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match="more than 0 s"):
        SoakRecorder(0, lambda: None, lambda: 0.0)  # type: ignore[arg-type,return-value]


def test_build_shape_reads_the_soak_options() -> None:
    options = type("Options", (), {"shape": "soak", "num_users": 12, "spawn_rate": 4.0,
                                   "run_time": 120, "soak_bucket": 15})()
    shape = build_shape(options)
    assert isinstance(shape, SoakShape)
    assert (shape.users, shape.spawn_rate, shape.duration_s) == (12, 4.0, 120.0)
    assert shape.recorder.bucket_s == 15
