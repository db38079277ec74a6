"""Rate pacing: a Locust run that sends a set number of requests per second (`--rate`), with a
set number of checkouts per second among them (`--checkout-rate`).

Locust's own `constant_throughput` / `constant_pacing` pace each user's *tasks*. A task of our
journeys is one to a dozen requests (a search and a click, a checkout and its order polls), so
a task rate says little about the request rate and nothing about the checkouts. Here instead:

- `RatePacer`: one schedule of slots, `1 / rate` apart, shared by every user of the process.
  Every request (`loadtests.calls.call`) takes the next free slot and waits for it, so the
  process never sends more than `rate` requests a second, evenly spread. A slot is never
  saved up: when every user was busy (a slow shop), the schedule restarts from now instead of
  bursting to catch up. Under gevent (Locust) `time.sleep` yields, so the wait is cooperative.
- a second `RatePacer` at `--checkout-rate` paces the buyers' purchases (journeys/buyer.py):
  each buyer takes a purchase slot before it starts one, so the checkouts arrive at that rate
  whatever the rest of the mix does, and their requests share the request slots with
  everybody else.
- `LoadMix`: how many users a paced run needs (users are the concurrency; the pacer sets the
  rate): enough buyers for the purchases in flight, enough others to fill the remaining slots.

Everything here imports without Locust (the game day plans its load with `LoadMix`). The
rate applies per Locust process (a distributed run paces each worker on its own).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# a checkout is one request in this many of a paced run (real shops: a few percent of
# requests buy; this keeps >= 1 checkout/s from 40 req/s up, and the saga's stream
# consumers, not the storefront, are what a checkout loads most)
CHECKOUT_SHARE = 1 / 40
# how long one buyer's purchase may take, slot waits and order polls included (a sign-up, a
# product, an add, the checkout, 2-6 polls 0.5 s apart; longer on a busy machine or while a
# fault slows the saga): buyers = checkout rate x this. A buyer waiting for its purchase slot
# sends nothing, so spare buyers cost no load; too few miss slots (at 4 s: 81 % of the
# requested checkouts at a load average of 12)
PURCHASE_S = 6.0
# the other users: one per this many requests/s. Users are the most requests in flight: a
# normal request takes 20-150 ms here, so this leaves headroom for a slow spell, yet when the
# shop slows down (a fault, a busy machine) the load cannot pile up more than this many
# requests on it and starve everything else (the experiments' own probe load included)
RPS_PER_OTHER_USER = 6.0
MIN_OTHER_USERS = 2
# `gameday run --rate`'s default, --quick too: about a fifth of what the local stack serves on
# a 2-core machine (~270 req/s at 60 users), with 1.5 checkouts a second
GAME_DAY_RATE = 60.0
MAX_RATE = 10_000.0


def checkout_rate_for(rate: float) -> float:
    """The checkouts per second of a paced run at `rate` requests per second."""
    return rate * CHECKOUT_SHARE


@dataclass(frozen=True)
class LoadMix:
    """A paced run: requests/s and checkouts/s requested, and the users that carry them."""

    rate: float
    checkout_rate: float
    users: int
    buyers: int

    @property
    def others(self) -> int:
        return self.users - self.buyers

    @classmethod
    def plan(cls, rate: float, checkout_rate: float | None = None,
             users: int | None = None) -> LoadMix:
        """The mix for `rate` (and `checkout_rate`, default `checkout_rate_for(rate)`); with
        `users`, that many in all, split between buyers and others in the same proportion.
        ValueError (naming the problem) for an impossible request."""
        if not (isinstance(rate, int | float) and math.isfinite(rate)) or rate <= 0:
            raise ValueError(f"the rate must be a number of requests per second > 0, got "
                             f"{rate!r}")
        if rate > MAX_RATE:
            raise ValueError(f"the rate {rate:g} req/s is above the {MAX_RATE:g} a local "
                             "game day can pace")
        checkouts = checkout_rate_for(rate) if checkout_rate is None else checkout_rate
        if not math.isfinite(checkouts) or checkouts < 0:
            raise ValueError(f"the checkout rate must be >= 0, got {checkouts!r}")
        if checkouts * 4 > rate:  # a purchase is >= 4 requests: sign-up, product, add, checkout
            raise ValueError(f"{checkouts:g} checkouts/s need at least {checkouts * 4:g} req/s "
                             f"(a purchase is 4 requests or more); the rate is {rate:g}")
        buyers = math.ceil(checkouts * PURCHASE_S) if checkouts > 0 else 0
        others = max(MIN_OTHER_USERS, math.ceil(rate / RPS_PER_OTHER_USER))
        if users is None:
            return cls(float(rate), float(checkouts), buyers + others, buyers)
        if users < (2 if buyers else 1):
            raise ValueError(f"{users} user(s) cannot carry the mix: a paced run with "
                             "checkouts needs at least 2 (a buyer and one other)")
        share = round(users * buyers / (buyers + others)) if buyers else 0
        share = min(users - 1, max(1 if buyers else 0, share))
        return cls(float(rate), float(checkouts), users, share)

    def describe(self) -> dict[str, float | int]:
        return {"rate": self.rate, "checkout_rate": self.checkout_rate, "users": self.users,
                "buyers": self.buyers}


class RatePacer:
    """Slots `1 / rate` seconds apart, shared by every caller; `wait()` takes the next one."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"a pacer needs a rate > 0, got {rate!r}")
        self.rate = float(rate)
        self.interval = 1.0 / self.rate
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._lock = threading.Lock()  # a greenlet lock under gevent; nothing yields inside

    def reserve(self) -> float:
        """Book the next free slot; the seconds to wait for it (0 when it is now)."""
        with self._lock:
            now = self._clock()
            slot = now if self._next is None or self._next < now else self._next
            self._next = slot + self.interval
            return slot - now

    def wait(self) -> float:
        """Wait for the next slot; the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            self._sleep(delay)
        return delay


_ATTR = "_gameday_pacers"


@dataclass(frozen=True)
class Pacers:
    """The pacers of one Locust process: requests (every call) and purchases (buyers)."""

    requests: RatePacer | None = None
    purchases: RatePacer | None = None
    mix: LoadMix | None = None


def install_pacers(environment: object, pacers: Pacers) -> None:
    setattr(environment, _ATTR, pacers)


def pacers_for(environment: object) -> Pacers:
    """The process's pacers (none installed: an unpaced run)."""
    found = getattr(environment, _ATTR, None)
    return found if isinstance(found, Pacers) else Pacers()
