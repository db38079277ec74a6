"""Verdicts: judging values against tolerances, and the numbers every experiment reports.

Two things live here, both pure (no I/O):
- `judge(value, tolerance)`: a probe's value against {equals | in | min | max | path};
- `compute(metric, obs, params)` over the run's Observations: time from fault start to
  breaker OPEN / alarm ALARM, from fault end to breaker CLOSED / alarm OK / backlog drained,
  error rate and p99 during the fault, 503s carrying Retry-After, orders accepted vs
  completed/cancelled/lost, duplicates, replica replacement time, the error blip.
  `standard_numbers(obs, observe)` computes the set every run reports; an experiment's
  `verdicts:` put bounds on some of them, each a Verdict with observed vs expected, and
  `error_budget_verdict` judges the experiment's own error budget (its `error-budget:`).
What each number means, its unit and how it is written: `chaos.numbers`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaos.durations import parse_duration
from chaos.load.records import (
    RequestRecord,
    failed_request,
    in_window,
    percentile,
    rate,
    status_matches,
)
from chaos.numbers import format_value, percent
from chaos.registry import Registry

# -- judging values ---------------------------------------------------------------------------


def dig(value: Any, path: str | None) -> Any:
    """`value["a"]["b"]` for path "a.b" (list indices allowed); None when absent."""
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def describe_tolerance(tolerance: dict[str, Any], metric: str | None = None) -> str:
    """'<= 10' — with a metric, its bounds in the metric's unit ('<= 10.0 s', '<= 30 %')."""
    def bound(value: Any) -> str:
        if metric is None or isinstance(value, bool) or not isinstance(value, int | float):
            return repr(value) if isinstance(value, str) else str(value)
        return format_value(metric, value)

    parts = []
    if "path" in tolerance:
        parts.append(f"{tolerance['path']}:")
    if "equals" in tolerance:
        value = tolerance["equals"]
        parts.append(f"== {bound(value) if metric else repr(value)}")
    if "in" in tolerance:
        parts.append(f"in {tolerance['in']!r}")
    if "min" in tolerance:
        parts.append(f">= {bound(tolerance['min'])}")
    if "max" in tolerance:
        parts.append(f"<= {bound(tolerance['max'])}")
    return " ".join(parts) or "any value"


def judge(value: Any, tolerance: dict[str, Any] | None) -> bool:
    """True when `value` (or its `path`) satisfies every bound of `tolerance`; a missing value
    never satisfies a bound."""
    if not tolerance:
        return True
    value = dig(value, tolerance.get("path"))
    if "equals" in tolerance and value != tolerance["equals"]:
        return False
    if "in" in tolerance and value not in tolerance["in"]:
        return False
    for bound, ok in (("min", lambda v, b: v >= b), ("max", lambda v, b: v <= b)):
        if bound in tolerance:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            if not ok(value, tolerance[bound]):
                return False
    return True


@dataclass
class Verdict:
    """One pass/fail line of a report: what was expected, what was observed."""

    title: str
    kind: str  # hypothesis-before | hypothesis-after | method-probe | verdict | injection
    observed: Any
    expected: str
    passed: bool
    detail: str = ""
    metric: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- what a run observed ----------------------------------------------------------------------


@dataclass
class Observations:
    run_start: float
    run_end: float
    faults: list[dict[str, Any]] = field(default_factory=list)  # FaultWindow dicts
    series: dict[str, list[tuple[float, Any]]] = field(default_factory=dict)
    alarm_changes: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    records: list[RequestRecord] | None = None
    orders: dict[str, Any] | None = None  # accepted, by_status, duplicates
    events: list[dict[str, Any]] = field(default_factory=list)
    probes: dict[str, Any] = field(default_factory=dict)

    def fault_window(self, fault: str | None = None) -> tuple[float, float] | None:
        """(first start, last end) of the run's faults (those named `fault` — fault or step
        name — if given; else every fault but a negative control's protection switches); a
        fault still open counts until the end of the run."""
        chosen = [f for f in self.faults
                  if (fault is None and f.get("role", "fault") == "fault")
                  or f["name"] == fault or f.get("step") == fault]
        if not chosen:
            return None
        start = min(f["start"] for f in chosen)
        end = max((f["end"] or self.run_end) for f in chosen)
        return start, end


Metric = Callable[[Observations, dict[str, Any]], Any]
METRICS: Registry[Metric] = Registry("metric")
metric = METRICS.registers  # @metric("error_rate") def ...


def compute(name: str, obs: Observations, params: dict[str, Any] | None = None) -> Any:
    return METRICS.get(name)(obs, dict(params or {}))


def _window(obs: Observations, p: dict[str, Any]) -> tuple[float, float] | None:
    return obs.fault_window(p.get("fault"))


def _first(points: list[tuple[float, Any]], after: float, pred: Callable[[Any], bool]
           ) -> float | None:
    return next((t for t, v in points if t >= after and pred(v)), None)


def _settled_at(points: list[tuple[float, Any]], after: float, pred: Callable[[Any], bool]
                ) -> float | None:
    """The first time ≥ after from which every later sample satisfies pred (None if the last
    sample does not)."""
    later = [(t, v) for t, v in points if t >= after]
    if not later or not pred(later[-1][1]):
        return None
    settled = later[-1][0]
    for t, v in reversed(later):
        if not pred(v):
            break
        settled = t
    return settled


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# -- breakers ---------------------------------------------------------------------------------


@metric("time_to_breaker_open_s")
def _time_to_breaker_open(obs: Observations, p: dict[str, Any]) -> float | None:
    window = _window(obs, p)
    points = obs.series.get(f"breaker:{p['dependency']}", [])
    if window is None:
        return None
    t = _first(points, window[0], lambda v: v == "open")
    return _round(None if t is None else t - window[0])


def _breaker_closed_at(obs: Observations, p: dict[str, Any]) -> float | None:
    """When the breaker was closed for good after opening during the fault (None if it never
    opened, or is not closed at the end): the one instant both recovery numbers read."""
    window = _window(obs, p)
    points = obs.series.get(f"breaker:{p['dependency']}", [])
    if window is None or _first(points, window[0], lambda v: v == "open") is None:
        return None
    return _settled_at(points, window[0], lambda v: v == "closed")


@metric("time_to_breaker_closed_s")
def _time_to_breaker_closed(obs: Observations, p: dict[str, Any]) -> float | None:
    """From fault end until the breaker is closed for good (None if it never opened during
    the fault, or is not closed at the end)."""
    window = _window(obs, p)
    t = _breaker_closed_at(obs, p)
    return _round(None if t is None or window is None else max(0.0, t - window[1]))


def _returned_at(obs: Observations, service: str) -> float | None:
    """When the first replica of `service` was healthy again after the fault started."""
    times = [float(e["ts"]) for e in _replaced(obs, {"service": service})]
    return min(times) if times else None


@metric("replicas_back_s")
def _replicas_back(obs: Observations, p: dict[str, Any]) -> float | None:
    """From fault end until the first replica of `service` was healthy again (None: none was
    replaced)."""
    window = _window(obs, p)
    back = _returned_at(obs, p["service"])
    return _round(None if back is None or window is None else back - window[1])


@metric("breaker_closed_after_return_s")
def _breaker_closed_after_return(obs: Observations, p: dict[str, Any]) -> float | None:
    """From the dependency's first replica healthy again until its breaker is closed for good
    (= time_to_breaker_closed_s - replicas_back_s when it closed after the return)."""
    back = _returned_at(obs, p["dependency"])
    closed = _breaker_closed_at(obs, p)
    return _round(None if back is None or closed is None else max(0.0, closed - back))


@metric("breaker_opened")
def _breaker_opened(obs: Observations, p: dict[str, Any]) -> bool:
    return _time_to_breaker_open(obs, p) is not None


# -- alarms -----------------------------------------------------------------------------------


def _alarm_transitions(obs: Observations, name: str) -> list[tuple[float, str]]:
    return sorted(obs.alarm_changes.get(name, []))


def _names(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


@metric("time_to_alarm_s")
def _time_to_alarm(obs: Observations, p: dict[str, Any]) -> float | None:
    """From fault start to the first ALARM (of any of the alarms, when `alarm` is a list)."""
    window = _window(obs, p)
    if window is None:
        return None
    times = [_first(_alarm_transitions(obs, name), window[0], lambda s: s == "ALARM")
             for name in _names(p["alarm"])]
    found = [t for t in times if t is not None]
    return _round(min(found) - window[0]) if found else None


@metric("time_to_alarm_ok_s")
def _time_to_alarm_ok(obs: Observations, p: dict[str, Any]) -> float | None:
    """From fault end until the alarm is back to OK (after having fired)."""
    window = _window(obs, p)
    if window is None:
        return None
    changes = _alarm_transitions(obs, p["alarm"])
    fired = _first(changes, window[0], lambda s: s == "ALARM")
    if fired is None:
        return None
    ok = _first(changes, fired, lambda s: s == "OK")
    return _round(None if ok is None else ok - window[1])


# -- load -------------------------------------------------------------------------------------


def _records(obs: Observations, p: dict[str, Any], scope: str = "fault"
             ) -> list[RequestRecord] | None:
    """The probe load's requests (named `name`, if given) that started in the window
    `p["window"]` (default `scope`): `run`; `fault` (the fault window); `after` (from the
    fault's end); `breaker-open` (from the first sample of the breaker of `p["dependency"]`
    open after the fault started to the fault's end: what a working breaker answers, not the
    requests already on their way before it opened — none when it never opened)."""
    if obs.records is None:
        return None
    scope = p.get("window", scope)
    window = _window(obs, p)
    if scope == "run" or window is None:
        start, end = obs.run_start, obs.run_end
    elif scope == "after":
        start, end = window[1], obs.run_end
    elif scope == "breaker-open":
        if not p.get("dependency"):
            raise ValueError("window breaker-open needs params.dependency (the breaker)")
        opened = _first(obs.series.get(f"breaker:{p['dependency']}", []), window[0],
                        lambda v: v == "open")
        if opened is None:
            return []
        start, end = opened, window[1]
    else:
        start, end = window
    return in_window(obs.records, start, end, p.get("name"))


@metric("error_rate")
def _error_rate(obs: Observations, p: dict[str, Any]) -> float | None:
    """Fraction of requests (during the fault by default) with status `status` (default
    "error": no answer or 5xx)."""
    records = _records(obs, p)
    return None if records is None else _round(rate(records, p.get("status", "error")), 4)


@metric("count_status")
def _count_status(obs: Observations, p: dict[str, Any]) -> int | None:
    records = _records(obs, p, "run")
    if records is None:
        return None
    return sum(1 for r in records if status_matches(r.status, p.get("status", "error")))


@metric("requests")
def _requests(obs: Observations, p: dict[str, Any]) -> int | None:
    records = _records(obs, p)
    return None if records is None else len(records)


@metric("p99_s")
def _p99(obs: Observations, p: dict[str, Any]) -> float | None:
    records = _records(obs, p)
    if records is None:
        return None
    return _round(percentile([r.duration_s for r in records], float(p.get("q", 99))), 4)


@metric("retry_after_ratio")
def _retry_after_ratio(obs: Observations, p: dict[str, Any]) -> float | None:
    """Of the 503 answers (run-wide by default), the fraction that carried Retry-After."""
    records = _records(obs, p, "run")
    if records is None:
        return None
    rejected = [r for r in records if r.status == int(p.get("status", 503))]
    if not rejected:
        return None
    return _round(sum(1 for r in rejected if r.retry_after) / len(rejected), 4)


@metric("error_budget_used")
def _error_budget_used(obs: Observations, p: dict[str, Any]) -> float | None:
    """Failed requests of the probe load (the whole run) against those the budget allows
    (`ratio` × requests): 1.0 is the whole budget. A failure: no answer or a 5xx that is not
    a clean shed (503 with Retry-After)."""
    if obs.records is None:
        return None
    records = in_window(obs.records, obs.run_start, obs.run_end)
    if not records:
        return None
    failed = sum(1 for r in records if failed_request(r))
    allowed = float(p["ratio"]) * len(records)
    if not allowed:
        return 0.0 if not failed else float("inf")
    return _round(failed / allowed, 4)


@metric("error_blip_s")
def _error_blip(obs: Observations, p: dict[str, Any]) -> float | None:
    """From the first to the last failing request after the fault started (0: none failed)."""
    window = _window(obs, p)
    if obs.records is None or window is None:
        return None
    failing = [r.t for r in in_window(obs.records, window[0], obs.run_end, p.get("name"))
               if status_matches(r.status, p.get("status", "error"))]
    return _round(max(failing) - min(failing) if failing else 0.0)


# -- orders -----------------------------------------------------------------------------------


def _orders(obs: Observations, key: str) -> int | None:
    if obs.orders is None:
        return None
    if key in ("accepted", "duplicates"):
        return int(obs.orders.get(key, 0))
    return int((obs.orders.get("by_status") or {}).get(key, 0))


@metric("orders_accepted")
def _orders_accepted(obs: Observations, p: dict[str, Any]) -> int | None:
    return _orders(obs, "accepted")


@metric("orders_completed")
def _orders_completed(obs: Observations, p: dict[str, Any]) -> int | None:
    return _orders(obs, "COMPLETED")


@metric("orders_cancelled")
def _orders_cancelled(obs: Observations, p: dict[str, Any]) -> int | None:
    return _orders(obs, "CANCELLED")


@metric("orders_lost")
def _orders_lost(obs: Observations, p: dict[str, Any]) -> int | None:
    """Accepted orders that did not reach COMPLETED or CANCELLED before the settle deadline."""
    accepted = _orders(obs, "accepted")
    if accepted is None:
        return None
    return accepted - (_orders(obs, "COMPLETED") or 0) - (_orders(obs, "CANCELLED") or 0)


@metric("duplicate_orders")
def _duplicates(obs: Observations, p: dict[str, Any]) -> int | None:
    return _orders(obs, "duplicates")


# -- streams ----------------------------------------------------------------------------------


@metric("iterator_age_max_s")
def _iterator_age_max(obs: Observations, p: dict[str, Any]) -> float | None:
    window = _window(obs, p)
    points = [v for t, v in obs.series.get(f"iterator_age:{p['function']}", [])
              if v is not None and (window is None or t >= window[0])]
    return _round(max(points)) if points else None


def _held_at(points: list[tuple[float, Any]], after: float, pred: Callable[[Any], bool],
             hold_s: float) -> float | None:
    """The first time ≥ after from which every sample for `hold_s` seconds satisfies pred
    (a stretch cut short by the end of the samples counts when it reaches the end)."""
    later = [(t, v) for t, v in points if t >= after]
    start: float | None = None
    for t, v in later:
        if not pred(v):
            start = None
            continue
        if start is None:
            start = t
        if t - start >= hold_s:
            return start
    return start


@metric("backlog_drained_s")
def _backlog_drained(obs: Observations, p: dict[str, Any]) -> float | None:
    """From fault end until IteratorAge stays at or below `threshold` seconds (default 5):
    for good (to the end of the run), or, with `hold`, for that many seconds. A shard is read
    in order, so once the age has stayed low for a while every record from before the fault's
    end is done: a later rise is new slowness under load, not the fault's backlog."""
    window = _window(obs, p)
    if window is None:
        return None
    threshold = float(p.get("threshold", 5))
    points = obs.series.get(f"iterator_age:{p['function']}", [])
    drained = lambda v: v is not None and v <= threshold  # noqa: E731
    if p.get("hold") is not None:  # a low stretch counts from the fault's end, not before
        t = _held_at(points, window[1], drained, parse_duration(p["hold"]))
    else:
        t = _settled_at(points, window[0], drained)
    return _round(None if t is None else max(0.0, t - window[1]))


# -- processes --------------------------------------------------------------------------------


def _replaced(obs: Observations, p: dict[str, Any]) -> list[dict[str, Any]]:
    window = _window(obs, p)
    since = window[0] if window else obs.run_start
    return [e for e in obs.events if e.get("kind") == "replaced" and e.get("ts", 0) >= since
            and str(e.get("process", "")).startswith(p["service"])]


@metric("replacement_s")
def _replacement(obs: Observations, p: dict[str, Any]) -> float | None:
    """The slowest death-to-healthy replacement of the service's replicas (supervisor
    events), None when none was replaced."""
    seconds = [float(e["seconds"]) for e in _replaced(obs, p) if "seconds" in e]
    return _round(max(seconds)) if seconds else None


@metric("replicas_replaced")
def _replicas_replaced(obs: Observations, p: dict[str, Any]) -> int:
    return len(_replaced(obs, p))


# -- probe outputs ----------------------------------------------------------------------------


@metric("probe")
def _probe(obs: Observations, p: dict[str, Any]) -> Any:
    """The (last) output of a named probe step, optionally a `path` inside it."""
    return dig(obs.probes.get(p["name"]), p.get("path"))


# -- the standard set -------------------------------------------------------------------------


def _budget_numbers(obs: Observations, ratio: float) -> dict[str, Any]:
    records = in_window(obs.records or [], obs.run_start, obs.run_end)
    return {"error_budget_requests": len(records),
            "error_budget_failed": sum(1 for r in records if failed_request(r)),
            "error_budget_ratio": ratio,
            "error_budget_used": compute("error_budget_used", obs, {"ratio": ratio})}


def standard_numbers(obs: Observations, observe: dict[str, Any],
                     budget_ratio: float | None = None) -> dict[str, Any]:
    """Every number that applies to this run (what it observed decides which); with
    `budget_ratio`, the error budget of its probe load too."""
    numbers: dict[str, Any] = {}
    window = obs.fault_window()
    if window:
        numbers["fault_start"] = window[0]
        numbers["fault_end"] = window[1]
        numbers["fault_duration_s"] = _round(window[1] - window[0])
    for dep in observe.get("breakers", []):
        for name in ("time_to_breaker_open_s", "time_to_breaker_closed_s"):
            numbers[f"{name}[{dep}]"] = compute(name, obs, {"dependency": dep})
        if _returned_at(obs, dep) is not None:  # its replicas were killed and came back
            numbers[f"replicas_back_s[{dep}]"] = compute("replicas_back_s", obs,
                                                         {"service": dep})
            numbers[f"breaker_closed_after_return_s[{dep}]"] = compute(
                "breaker_closed_after_return_s", obs, {"dependency": dep})
    for alarm in observe.get("alarms", []):
        for name in ("time_to_alarm_s", "time_to_alarm_ok_s"):
            numbers[f"{name}[{alarm}]"] = compute(name, obs, {"alarm": alarm})
    for function in observe.get("iterator-age", []):
        for name in ("iterator_age_max_s", "backlog_drained_s"):
            numbers[f"{name}[{function}]"] = compute(name, obs, {"function": function})
    for service in observe.get("services", []):
        numbers[f"replacement_s[{service}]"] = compute("replacement_s", obs,
                                                       {"service": service})
    if obs.records is not None:
        numbers["requests_during_fault"] = compute("requests", obs, {})
        numbers["error_rate_during_fault"] = compute("error_rate", obs, {})
        numbers["p99_during_fault_s"] = compute("p99_s", obs, {})
        numbers["http_500_total"] = compute("count_status", obs, {"status": 500})
        numbers["http_503_total"] = compute("count_status", obs, {"status": 503})
        numbers["checkout_503_retry_after_ratio"] = compute(
            "retry_after_ratio", obs, {"name": "checkout"})
        if budget_ratio is not None:
            numbers.update(_budget_numbers(obs, budget_ratio))
    if obs.orders is not None:
        for name in ("orders_accepted", "orders_completed", "orders_cancelled",
                     "orders_lost", "duplicate_orders"):
            numbers[name] = compute(name, obs, {})
    return numbers


def evaluate(spec: dict[str, Any], obs: Observations) -> Verdict:
    """One `verdicts:` entry → a Verdict (a value that was not observed fails)."""
    params = dict(spec.get("params") or {})
    bounds = {k: spec[k] for k in ("equals", "in", "min", "max") if k in spec}
    observed = compute(spec["metric"], obs, params)
    label = spec["metric"] + (f"{params}" if params else "")
    passed = observed is not None and judge(observed, bounds)
    detail = "" if observed is not None else "not observed"
    return Verdict(title=spec.get("title") or label, kind="verdict", observed=observed,
                   expected=describe_tolerance(bounds, spec["metric"]), passed=passed,
                   detail=detail, metric=spec["metric"], params=params)


def error_budget_verdict(obs: Observations, ratio: float) -> Verdict | None:
    """The experiment's error budget (`error-budget:` in its file) as a verdict on its probe
    load: at most `ratio` of the run's requests failed. None without a probe load to judge."""
    if obs.records is None:
        return None
    verdict = evaluate({"title": f"the error budget holds: at most {percent(ratio)} of the "
                                 "probe load's requests fail",
                        "metric": "error_budget_used", "params": {"ratio": ratio},
                        "max": 1.0}, obs)
    verdict.detail = verdict.detail or budget_detail(obs, ratio)
    return verdict


def budget_detail(obs: Observations, ratio: float) -> str:
    """'3 failed of 98 requests; 1.0 allowed'."""
    numbers = _budget_numbers(obs, ratio)
    allowed = ratio * numbers["error_budget_requests"]
    return (f"{numbers['error_budget_failed']} failed of {numbers['error_budget_requests']} "
            f"requests; {allowed:.1f} allowed")
