"""Every number a run reports, defined once: what it measures, its unit, how it is written.

`chaos.verdicts` computes the numbers (`standard_numbers`, the verdict metrics); everything that
shows one — the experiment's report.html and junit.xml, the game day's terminal lines,
index.html, summary.json and junit.xml — reads its title, unit and definition here and writes
its value with `format_value`, so "recovery" or "error budget used" means the same thing and
reads the same way everywhere. Numbers named `name[what]` (a breaker's dependency, an alarm, a
function, a service) share the definition of `name`, `{what}` filled in.

Units: `epoch` (written relative to the run's start, with the clock time), `s`, `ratio` (a
fraction of requests, written as a percentage), `budget` (a fraction of the error budget,
written as a percentage), `count`, `state` (a value as it is), a rate (`req/s`,
`checkouts/s`: written with one decimal and the unit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NumberDef:
    """One number: its key (without `[what]`), a short title, its unit, what it measures, and
    what a missing value (never observed) means."""

    key: str
    title: str
    unit: str
    definition: str
    missing: str = "—"
    generic: str = ""  # what `{what}` reads as in a definition without a name


_DEFS = [
    NumberDef("fault_start", "fault started", "epoch",
              "when the run's first fault was injected"),
    NumberDef("fault_end", "fault ended", "epoch",
              "when the run's last fault was undone (or expired)"),
    NumberDef("fault_duration_s", "fault duration", "s",
              "from the first fault's start to the last fault's end"),
    NumberDef("time_to_breaker_open_s", "{what} breaker open", "s",
              "detection: from the fault's start to the first sample with the breaker of "
              "{what} open", "never", "its dependency"),
    NumberDef("time_to_breaker_closed_s", "{what} breaker closed", "s",
              "recovery: from the fault's end until the breaker of {what} is closed for good "
              "(every later sample closed) — its replicas' return plus the breaker closing "
              "after it", "never", "its dependency"),
    NumberDef("replicas_back_s", "{what} replicas back", "s",
              "from the fault's end until the first replica of {what} was healthy again "
              "(the supervisor's replacement)", "never", "the dependency"),
    NumberDef("breaker_closed_after_return_s", "{what} breaker closed after its replicas "
              "returned", "s",
              "from the first replica of {what} healthy again until its breaker is closed "
              "for good: the recovery minus the replicas' return", "never", "the dependency"),
    NumberDef("breaker_opened", "breaker opened", "state",
              "whether the breaker was seen open after the fault started"),
    NumberDef("time_to_alarm_s", "{what} ALARM", "s",
              "detection: from the fault's start to the first ALARM of {what}", "never",
              "a watched alarm"),
    NumberDef("time_to_alarm_ok_s", "{what} OK", "s",
              "recovery: from the fault's end until {what} is back to OK after its ALARM",
              "never", "the alarm"),
    NumberDef("iterator_age_max_s", "{what} IteratorAge max", "s",
              "the highest IteratorAge of {what} sampled after the fault started", "—",
              "the stream consumer"),
    NumberDef("backlog_drained_s", "{what} backlog drained", "s",
              "recovery: from the fault's end until the IteratorAge of {what} stays at or "
              "below its threshold (5 s): to the end of the run, or for the verdict's `hold` "
              "(the experiment's YAML)", "never", "the stream consumer"),
    NumberDef("replacement_s", "{what} replaced", "s",
              "recovery: the slowest death-to-healthy replacement of a replica of {what} "
              "(supervisor events)", "never", "the service"),
    NumberDef("replicas_replaced", "replicas replaced", "count",
              "replicas of the service replaced since the fault started"),
    NumberDef("requests", "requests", "count", "requests of the probe load in the window"),
    NumberDef("requests_during_fault", "requests during the fault", "count",
              "requests of the experiment's probe load while a fault was on"),
    NumberDef("error_rate", "error rate", "ratio",
              "share of the probe load's requests (in the window: the fault by default) "
              "answered with the status (default: none or a 5xx)"),
    NumberDef("error_rate_during_fault", "error rate during the fault", "ratio",
              "share of the probe load's requests while a fault was on that got no answer or "
              "a 5xx (a clean 503 with Retry-After included); the error budget below counts "
              "the whole run and excludes clean 503s"),
    NumberDef("p99_s", "p99 latency", "s", "99th percentile of the probe load's latency"),
    NumberDef("p99_during_fault_s", "p99 latency during the fault", "s",
              "99th percentile of the probe load's latency while a fault was on"),
    NumberDef("count_status", "requests with the status", "count",
              "probe requests answered with the status (the whole run by default)"),
    NumberDef("http_500_total", "HTTP 500 answers", "count",
              "probe requests answered 500, the whole run"),
    NumberDef("http_503_total", "HTTP 503 answers", "count",
              "probe requests answered 503, the whole run"),
    NumberDef("retry_after_ratio", "503s with Retry-After", "ratio",
              "of the probe load's 503 answers, the share that carried Retry-After"),
    NumberDef("checkout_503_retry_after_ratio", "checkout 503s with Retry-After", "ratio",
              "of the checkout 503 answers, the share that carried Retry-After"),
    NumberDef("error_blip_s", "error blip", "s",
              "from the first to the last failing probe request after the fault started"),
    NumberDef("orders_accepted", "orders accepted", "count",
              "orders the probe load got a 202 for"),
    NumberDef("orders_completed", "orders completed", "count",
              "accepted orders that reached COMPLETED before the settle deadline"),
    NumberDef("orders_cancelled", "orders cancelled", "count",
              "accepted orders that reached CANCELLED before the settle deadline"),
    NumberDef("orders_lost", "orders lost", "count",
              "accepted orders that reached neither COMPLETED nor CANCELLED"),
    NumberDef("duplicate_orders", "duplicate orders", "count",
              "orders created twice for one checkout"),
    NumberDef("error_budget_requests", "error budget: requests", "count",
              "requests of the experiment's own probe load over the whole run"),
    NumberDef("error_budget_failed", "error budget: failed requests", "count",
              "of those, requests with no answer or a 5xx other than a 503 with Retry-After "
              "(a clean shed)"),
    NumberDef("error_budget_ratio", "error budget: allowed failure ratio", "ratio",
              "the experiment's `error-budget.ratio` (its YAML; default 1 %)"),
    NumberDef("error_budget_used", "error budget used", "budget",
              "failed requests against those allowed (ratio × requests): 100 % is the whole "
              "budget, more fails the experiment's error-budget verdict"),
    NumberDef("probe", "probe output", "state", "the last output of a named probe step"),
    # the load a game day ran under: its Locust users (loadtests.pacing paces them), the whole
    # load from Locust's first to its last request; each experiment's own probe load is above
    NumberDef("load_users", "Locust users", "count",
              "Locust users the game day ran, buyers included"),
    NumberDef("load_buyers", "buyers", "count",
              "of those, buyers: one purchase (a checkout) per purchase slot"),
    NumberDef("load_rate_requested", "requested", "req/s",
              "requests per second the game day asked for (`--rate`): every Locust request "
              "waits for a slot of that rate, so no more can start"),
    NumberDef("load_rate", "achieved", "req/s",
              "Locust's requests (any answer) divided by the load's span, its first to its "
              "last request"),
    NumberDef("load_checkout_rate_requested", "checkouts requested", "checkouts/s",
              "purchases per second the buyers were paced to (`--rate` / 40)"),
    NumberDef("load_checkout_rate", "checkouts", "checkouts/s",
              "Locust's checkouts (POST /v1/carts/{cart_id}/checkout, any answer; the buyers' "
              "and the shoppers') divided by the same span"),
    NumberDef("load_requests", "Locust requests", "count", "requests Locust sent, any answer"),
    NumberDef("load_checkouts", "Locust checkouts", "count",
              "checkouts Locust sent, any answer"),
    NumberDef("load_failures", "Locust failures", "count",
              "Locust requests counted as failed (loadtests.outcomes: no answer, a 5xx other "
              "than a clean 503 with Retry-After, an unexpected 4xx)"),
    NumberDef("load_failure_ratio", "Locust failure ratio", "ratio",
              "Locust failures / Locust requests"),
    NumberDef("load_rate_during", "Locust during the experiment", "req/s",
              "the game day's Locust requests from the experiment's start to its end, per "
              "second (context: its error budget judges its own probe load)"),
]
NUMBERS: dict[str, NumberDef] = {d.key: d for d in _DEFS}


def split(key: str) -> tuple[str, str]:
    """('time_to_breaker_open_s', 'payments') for 'time_to_breaker_open_s[payments]'."""
    if key.endswith("]") and "[" in key:
        base, what = key[:-1].split("[", 1)
        return base, what
    return key, ""


def definition(key: str) -> NumberDef | None:
    """The definition of a number (or verdict metric) key, `[what]` filled in; None when it
    has none."""
    base, what = split(key)
    found = NUMBERS.get(base)
    if found is None:
        return None

    name = what.removeprefix("shop-")
    return NumberDef(key, found.title.replace("{what} ", f"{name} " if name else ""),
                     found.unit, found.definition.replace("{what}", name or found.generic),
                     found.missing, found.generic)


def title(key: str) -> str:
    found = definition(key)
    return found.title if found else key


def seconds(value: float) -> str:
    """0 s, 41 ms, 1.7 s, 12.4 s, 173 s."""
    if value == 0:
        return "0 s"
    if abs(value) < 1:
        return f"{value * 1000:.0f} ms"
    if abs(value) < 100:
        return f"{value:.1f} s"
    return f"{value:.0f} s"


def percent(value: float) -> str:
    """0 %, 33.6 %, 100 %; never rounds a share just over 100 % down to 100 %."""
    pct = value * 100
    if pct == float("inf"):
        return "∞ %"
    text = f"{pct:.1f}".removesuffix(".0") if pct < 100 else f"{pct:.0f}"
    if pct > 100 and float(text) <= 100:
        text = f"{pct:.1f}"
    return f"{text} %"


def format_value(key: str, value: Any, t0: float | None = None) -> str:
    """A number as every report writes it (its unit, a sensible precision)."""
    found = definition(key)
    if value is None:
        return found.missing if found else "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    unit = found.unit if found else ("s" if split(key)[0].endswith("_s") else "")
    if unit == "epoch":
        clock = time.strftime("%H:%M:%S", time.localtime(value))
        return f"+{seconds(value - t0)} ({clock})" if t0 is not None else clock
    if unit == "s":
        return seconds(float(value))
    if unit in ("ratio", "budget"):
        return percent(float(value))
    if unit.endswith("/s"):
        return f"{float(value):.1f} {unit}"
    if unit == "count" and float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"
