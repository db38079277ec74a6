"""Load shapes: tick() sequences on a fake clock, and selection from the options."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from locust.argument_parser import LocustArgumentParser

from loadtests.config import add_arguments
from loadtests.shapes import (
    NOVEMBER_BASE_LEVEL,
    NOVEMBER_WEEK_FRACTION,
    NovemberShape,
    SpikeShape,
    SteadyShape,
    StepShape,
    build_shape,
    november_level,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ticks(shape: Any, clock: FakeClock, seconds: int) -> list[Any]:
    """tick() once a second from t=0 (as Locust's shape worker does), up to `seconds`."""
    shape.reset_time()
    start = clock.now
    out = []
    for second in range(seconds + 1):
        clock.now = start + second
        out.append(shape.tick())
    return out


def options(*argv: str) -> Any:
    parser = LocustArgumentParser(prog="locust")
    parser.add_argument("-u", dest="num_users", type=int, default=None)
    parser.add_argument("-r", dest="spawn_rate", type=float, default=None)
    parser.add_argument("-t", dest="run_time", type=int, default=None)
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_steady() -> None:
    clock = FakeClock()
    seq = ticks(SteadyShape(5, 2.0, 4, clock), clock, 5)
    assert seq == [(5, 2.0)] * 4 + [None, None]


def test_step() -> None:
    clock = FakeClock()
    seq = ticks(StepShape(10, 10.0, 12, step_users=4, step_s=3, clock=clock), clock, 12)
    assert [t[0] if t else None for t in seq] == [4, 4, 4, 8, 8, 8, 10, 10, 10, 10, 10, 10, None]


def test_spike() -> None:
    clock = FakeClock()
    seq = ticks(SpikeShape(2, 1.0, 10, spike_users=12, spike_at_s=4, spike_s=3, clock=clock),
                clock, 10)
    assert [t[0] if t else None for t in seq] == [2, 2, 2, 2, 12, 12, 12, 2, 2, 2, None]
    assert seq[4][1] >= 12  # the spike arrives within a second
    assert seq[0][1] == 1.0


def test_november_level_follows_seed_001() -> None:
    week = [november_level(NOVEMBER_WEEK_FRACTION * i / 7000) for i in range(7000)]
    # an ordinary week averages about a quarter of the peak (24% used, 76% idle)
    assert sum(week) / len(week) == pytest.approx(NOVEMBER_BASE_LEVEL, rel=0.05)
    assert max(week) < 0.5
    # one daily peak per day: seven local maxima
    peaks = [i for i in range(1, len(week) - 1) if week[i - 1] < week[i] >= week[i + 1]]
    assert len(peaks) == 7
    # weekdays busier than the weekend (Sunday = day 0, Monday = day 1)
    assert max(week[1000:2000]) > max(week[0:1000])
    surge = [november_level(NOVEMBER_WEEK_FRACTION + (1 - NOVEMBER_WEEK_FRACTION) * i / 1000)
             for i in range(1001)]
    assert max(surge) == 1.0
    assert surge.index(1.0) > 100  # it ramps up to the peak...
    assert surge[-1] == pytest.approx(NOVEMBER_BASE_LEVEL)  # ...and falls back


def test_november_ticks() -> None:
    clock = FakeClock()
    seq = ticks(NovemberShape(20, 20.0, 100, clock), clock, 100)
    users = [t[0] for t in seq[:-1]]
    assert seq[-1] is None
    assert max(users) == 20 and min(users) >= 1
    assert max(users[:60]) <= 9  # the week stays well below the surge
    assert users.index(20) >= 60  # the peak is in the late-November surge


def test_build_shape_from_arguments() -> None:
    assert build_shape(options()) is None
    steady = build_shape(options("--shape", "steady", "-u", "4", "-r", "2", "-t", "30"))
    assert isinstance(steady, SteadyShape)
    assert (steady.users, steady.spawn_rate, steady.duration_s) == (4, 2.0, 30.0)
    own = build_shape(options("--shape", "steady", "-u", "4", "--shape-users", "6",
                              "--shape-spawn-rate", "3", "--shape-duration", "1m"))
    assert (own.users, own.spawn_rate, own.duration_s) == (6, 3.0, 60.0)
    step = build_shape(options("--shape", "step", "--shape-users", "8", "--step-users", "2",
                               "--step-duration", "5s", "--shape-duration", "20s"))
    assert isinstance(step, StepShape) and (step.step_users, step.step_s) == (2, 5.0)
    spike = build_shape(options("--shape", "spike", "--shape-users", "2", "--spike-users", "9",
                                "--spike-at", "10s", "--spike-duration", "4s", "-t", "30"))
    assert isinstance(spike, SpikeShape)
    assert (spike.spike_users, spike.spike_at_s, spike.spike_s) == (9, 10, 4)
    november = build_shape(options("--shape", "november", "--shape-users", "12"))
    assert isinstance(november, NovemberShape) and november.duration_s == 60.0


def test_shape_defaults() -> None:
    spike = build_shape(SimpleNamespace(shape="spike", num_users=4, run_time=40))
    assert (spike.spike_users, spike.spike_at_s, spike.spike_s) == (12, 20.0, 4.0)
    step = build_shape(SimpleNamespace(shape="step", num_users=10, run_time=40))
    assert (step.step_users, step.step_s) == (3, 10.0)


def test_bad_shape_arguments() -> None:
    with pytest.raises(SystemExit):
        options("--shape", "zigzag")
    with pytest.raises(SystemExit):
        options("--shape-duration", "soon")
    with pytest.raises(ValueError):
        build_shape(SimpleNamespace(shape="steady", num_users=1, shape_duration=0, run_time=0,
                                    shape_users=1))


def test_shapes_are_not_discovered_by_locust() -> None:
    from locust.util.load_locustfile import is_shape_class

    import loadtests.locustfile as locustfile

    assert not [v for v in vars(locustfile).values() if is_shape_class(v)]
