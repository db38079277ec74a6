"""The custom command-line arguments of our locustfile, and the run settings read from them.

`add_arguments` is registered on Locust's `events.init_command_line_parser`; `RunConfig` is
what the users read at run time (via `run_config(environment)`), so journeys never parse
options themselves.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.data import DEFAULT_SEED
from loadtests.gates import add_gate_arguments
from loadtests.locust_free import (
    SHAPES,  # noqa: E402,F401 - re-exported
    parse_timespan,
)

_ATTR = "_gameday_run_config"
# Options that name files are parsed as text: in distributed mode the master sends every parsed
# option to its workers with msgpack, which cannot pack a Path (nor any object but plain data).
_PATHS = ("state_dir", "json_summary")


def timespan(text: str) -> int:
    """argparse type: `30`, `30s`, `2m`, `1h30m` -> seconds."""
    try:
        value = parse_timespan(text)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time span (examples: 30, 30s, 2m, 1h30m)") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def think_time(text: str) -> tuple[float, float]:
    """argparse type: `MIN:MAX` seconds between two tasks of one user, e.g. `0.5:2`."""
    low_text, sep, high_text = text.partition(":")
    try:
        low = float(low_text)
        high = float(high_text) if sep else low
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not MIN:MAX seconds (example: 0.5:2)") from exc
    if low < 0 or high < low:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= MIN <= MAX")
    return low, high


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value


def _rate(text: str) -> float:
    """argparse type: requests per second, finite, > 0 and at most pacing.MAX_RATE."""
    from loadtests.pacing import MAX_RATE

    value = _non_negative_float(text)
    if value == 0 or value > MAX_RATE:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 < REQ_PER_S <= {MAX_RATE:g}")
    return value


def add_arguments(parser: Any) -> None:
    """Register every custom argument (listener of events.init_command_line_parser)."""
    data = parser.add_argument_group("gameday: test data and journeys")
    data.add_argument("--seed", type=_non_negative_int, default=DEFAULT_SEED,
                      help="run seed; user n of a role gets a seed derived from it (default 42)")
    data.add_argument("--catalog-size", type=_non_negative_int, default=0,
                      help="number of products SKU-00001..SKU-<n>; 0 = ask the shop (default)")
    data.add_argument("--think-time", type=think_time, default=(0.5, 2.0), metavar="MIN:MAX",
                      help="seconds between two actions of one user (default 0.5:2)")
    data.add_argument("--devices-per-shopper", type=_non_negative_int, default=3,
                      help="cart-contention users sharing one shopper token and cart (default 3)")
    data.add_argument("--contention-users", type=_non_negative_int, default=None,
                      help="fixed number of cart-contention users (default: by class weight)")
    data.add_argument("--order-poll-max", type=_non_negative_int, default=10,
                      help="at most this many order status polls after a checkout (default 10)")
    data.add_argument("--order-poll-interval", type=_positive_float, default=0.5,
                      help="seconds between two order status polls (default 0.5)")
    data.add_argument("--max-retry-after", type=float, default=2.0,
                      help="cap in seconds on honouring a 503's Retry-After (default 2)")
    data.add_argument("--shed-is-failure", action="store_true", default=False,
                      help="count 503 + Retry-After (open breaker) as failures, not as shed")

    paced = parser.add_argument_group("gameday: paced load (loadtests.pacing)")
    paced.add_argument("--rate", type=_rate, default=None, metavar="REQ_PER_S",
                       help="send at most this many requests per second in all, evenly "
                            "spread (every request waits for a slot); adds buyers checking "
                            "out at --checkout-rate (default: no pacing)")
    paced.add_argument("--checkout-rate", type=_non_negative_float, default=None,
                       metavar="PER_S",
                       help="with --rate: purchases (each one checkout) started per second "
                            "by the buyers (default: --rate / 40)")
    paced.add_argument("--buyers", type=_non_negative_int, default=None,
                       help="with --rate: buyer users among -u (default: enough for the "
                            "checkout rate, loadtests.pacing.LoadMix)")

    target = parser.add_argument_group("gameday: target")
    target.add_argument("--state-dir", type=str, default=None,
                        help="gameday state dir to find the shop in when --host is not given "
                             "(default: $GAMEDAY_STATE_DIR or ./.gameday)")
    target.add_argument("--allow-remote", action="store_true", default=False,
                        help="allow a host outside loopback (127.0.0.0/8, ::1)")

    shape = parser.add_argument_group("gameday: load shapes")
    shape.add_argument("--shape", choices=SHAPES, default="none",
                       help="load shape; none = plain -u/-r/-t (default none)")
    shape.add_argument("--shape-users", type=_non_negative_int, default=None,
                       help="users of the shape (peak for november); default -u, else 10")
    shape.add_argument("--shape-spawn-rate", type=_positive_float, default=None,
                       help="users started per second; default -r, else the shape's users")
    shape.add_argument("--shape-duration", type=timespan, default=None,
                       help="total duration of the shape; default -t, else 60s")
    shape.add_argument("--step-users", type=_non_negative_int, default=None,
                       help="step, capacity: users added per step (default a quarter of the "
                            "users; capacity: a tenth of the most users)")
    shape.add_argument("--step-duration", type=timespan, default=None,
                       help="step, capacity: duration of one step (default a quarter of the "
                            "duration; capacity: 20s)")
    shape.add_argument("--step-settle", type=timespan, default=None,
                       help="capacity: seconds of each step left out of its measurement "
                            "while the new users settle (default a quarter of the step)")
    shape.add_argument("--soak-bucket", type=timespan, default=None,
                       help="soak: throughput and percentiles recorded per this span "
                            "(default 60s)")
    shape.add_argument("--spike-users", type=_non_negative_int, default=None,
                       help="spike: users at the top of the spike (default 3x the users)")
    shape.add_argument("--spike-at", type=timespan, default=None,
                       help="spike: when the spike starts (default half the duration)")
    shape.add_argument("--spike-duration", type=timespan, default=None,
                       help="spike: how long it lasts (default a tenth of the duration, >= 1s)")

    add_gate_arguments(parser)

    report = parser.add_argument_group("gameday: reports")
    report.add_argument("--json-summary", type=str, default=None,
                        help="write a JSON summary (per-route stats, gates, conflicts) here")


@dataclass(frozen=True)
class RunConfig:
    """What the users and listeners need from the options."""

    seed: int = DEFAULT_SEED
    catalog_size: int = 0
    think_time: tuple[float, float] = (0.5, 2.0)
    devices_per_shopper: int = 3
    contention_users: int | None = None
    order_poll_max: int = 10
    order_poll_interval: float = 0.5
    max_retry_after: float = 2.0
    shed_is_failure: bool = False
    rate: float | None = None
    checkout_rate: float | None = None
    buyers: int | None = None
    state_dir: Path | None = None
    allow_remote: bool = False
    json_summary: Path | None = None

    @classmethod
    def from_options(cls, options: Any) -> RunConfig:
        defaults = cls()
        values = {name: getattr(options, name, getattr(defaults, name))
                  for name in cls.__dataclass_fields__}
        values["think_time"] = tuple(values["think_time"])
        for name in _PATHS:
            if values[name] is not None:
                values[name] = Path(values[name])
        return cls(**values)


def run_config(environment: Any) -> RunConfig:
    """The run's config: set at init from the options, else built from them, else defaults."""
    config = getattr(environment, _ATTR, None)
    if config is None:
        config = RunConfig.from_options(getattr(environment, "parsed_options", None))
        setattr(environment, _ATTR, config)
    return config


def set_run_config(environment: Any, config: RunConfig) -> None:
    setattr(environment, _ATTR, config)
