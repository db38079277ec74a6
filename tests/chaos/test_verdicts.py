"""Verdict math on synthetic observations: times to open/close/alarm/drain, error rate, p99,
Retry-After, orders, replacement, error blip; judging tolerances."""

from __future__ import annotations

import pytest

from chaos.load.records import RequestRecord, failed_request, per_second, percentile, rate
from chaos.verdicts import (
    Observations,
    compute,
    error_budget_verdict,
    evaluate,
    judge,
    standard_numbers,
)

T0 = 1000.0


def _obs(**kw: object) -> Observations:
    base = dict(run_start=T0, run_end=T0 + 60,
                faults=[{"fault_id": "f", "name": "kill-replica", "step": "kill",
                         "targets": ["payments-1"], "start": T0 + 10, "end": T0 + 25}])
    base.update(kw)
    return Observations(**base)  # type: ignore[arg-type]


def _states(*pairs: tuple[float, str]) -> list[tuple[float, str]]:
    return [(T0 + t, s) for t, s in pairs]


def test_breaker_open_and_close_times() -> None:
    series = {"breaker:payments": _states(
        (5, "closed"), (10.5, "closed"), (12.5, "open"), (20, "open"), (27, "half_open"),
        (28, "open"), (33, "half_open"), (34, "closed"), (40, "closed"))}
    obs = _obs(series=series)
    assert compute("time_to_breaker_open_s", obs, {"dependency": "payments"}) == 2.5
    # closed for good from 34 s, fault ended at 25 s
    assert compute("time_to_breaker_closed_s", obs, {"dependency": "payments"}) == 9.0


def test_breaker_that_never_opened_or_never_closed() -> None:
    never = _obs(series={"breaker:payments": _states((5, "closed"), (30, "closed"))})
    assert compute("time_to_breaker_open_s", never, {"dependency": "payments"}) is None
    assert compute("time_to_breaker_closed_s", never, {"dependency": "payments"}) is None
    stuck = _obs(series={"breaker:payments": _states((12, "open"), (59, "open"))})
    assert compute("time_to_breaker_closed_s", stuck, {"dependency": "payments"}) is None


def test_alarm_times_use_transition_timestamps_and_lists() -> None:
    changes = {"jam": _states((0, "OK"), (21.5, "ALARM"), (40, "OK")),
               "throttles": _states((0, "OK"), (18, "ALARM"), (30, "OK"))}
    obs = _obs(alarm_changes=changes)
    assert compute("time_to_alarm_s", obs, {"alarm": "jam"}) == 11.5
    assert compute("time_to_alarm_s", obs, {"alarm": ["jam", "throttles"]}) == 8.0
    assert compute("time_to_alarm_ok_s", obs, {"alarm": "jam"}) == 15.0
    assert compute("time_to_alarm_s", obs, {"alarm": "missing"}) is None


def test_backlog_drained_and_iterator_age_max() -> None:
    ages = [(T0 + t, v) for t, v in [(5, 0.2), (15, 4.0), (24, 12.0), (27, 6.0), (31, 2.0),
                                    (32, 7.0), (36, 1.0), (50, 0.5)]]
    obs = _obs(series={"iterator_age:fn": ages})
    assert compute("iterator_age_max_s", obs, {"function": "fn"}) == 12.0
    assert compute("backlog_drained_s", obs, {"function": "fn", "threshold": 3}) == 11.0


def test_backlog_drained_with_a_hold_ignores_a_later_rise_under_load() -> None:
    # fault +10..+25 s; the backlog drains by +31 s, then the steady load lifts the age over
    # the threshold once, at +50 s
    ages = [(T0 + t, v) for t, v in [(5, 0.2), (15, 6.0), (24, 15.0), (27, 9.0), (31, 2.0),
                                    (34, 1.0), (38, 2.5), (42, 0.5), (50, 4.5), (52, 1.0)]]
    obs = _obs(series={"iterator_age:fn": ages})
    forever = {"function": "fn", "threshold": 3}
    assert compute("backlog_drained_s", obs, forever) == 27.0  # +52 s: after the late rise
    assert compute("backlog_drained_s", obs, {**forever, "hold": "10s"}) == 6.0  # +31 s
    # a backlog that never stays low for the hold is not drained
    jammed = _obs(series={"iterator_age:fn": [(T0 + t, v) for t, v in
                                              [(20, 9.0), (30, 2.0), (33, 8.0), (45, 2.0),
                                               (50, 7.0)]]})
    assert compute("backlog_drained_s", jammed, {**forever, "hold": "10s"}) is None
    # a low stretch while the jam was still building (the fault's first seconds) is not the
    # backlog drained: it counts from the fault's end
    slow_start = _obs(series={"iterator_age:fn": [(T0 + t, v) for t, v in
                                                  [(10, 0.5), (14, 1.0), (21, 2.0), (24, 8.0),
                                                   (30, 9.0), (60, 9.0)]]})
    assert compute("backlog_drained_s", slow_start, {**forever, "hold": "10s"}) is None


def test_error_rate_p99_retry_after_and_blip() -> None:
    records = [RequestRecord(T0 + 11 + i * 0.1, 0.01 * (i + 1), "checkout",
                             503 if i % 2 else 202, retry_after=bool(i % 2)) for i in range(10)]
    records += [RequestRecord(T0 + 12, 0.5, "browse", 500),
                RequestRecord(T0 + 14, 0.05, "browse", 0, error="ConnectionError"),
                RequestRecord(T0 + 40, 0.02, "checkout", 202)]
    obs = _obs(records=records)
    # "error" = no answer or any 5xx (the 503s count: the raw error rate during the fault)
    assert compute("error_rate", obs, {}) == pytest.approx(7 / 12, abs=1e-4)
    assert compute("error_rate", obs, {"status": 500}) == pytest.approx(1 / 12, abs=1e-4)
    assert compute("error_rate", obs, {"status": 503, "name": "checkout"}) == 0.5
    assert compute("p99_s", obs, {"name": "checkout"}) == 0.1
    assert compute("retry_after_ratio", obs, {"name": "checkout"}) == 1.0
    assert compute("count_status", obs, {"status": 500}) == 1
    assert compute("count_status", obs, {"status": "5xx", "window": "fault"}) == 6
    assert compute("error_blip_s", obs, {}) == 2.9  # first 503 at +11.1 s, last failure +14 s
    no_ra = _obs(records=[RequestRecord(T0 + 11, 0.1, "checkout", 503)])
    assert compute("retry_after_ratio", no_ra, {"name": "checkout"}) == 0.0
    assert compute("retry_after_ratio", _obs(records=[]), {}) is None


def test_p99_while_the_breaker_is_open_leaves_out_what_was_on_its_way() -> None:
    # the fault starts at +10 s; checkouts already on the normal path take 1.5 s until the
    # breaker opens (first open sample +12 s); the open breaker answers in 20 ms
    slow = [RequestRecord(T0 + 10 + i * 0.5, 1.5, "checkout", 503, retry_after=True)
            for i in range(4)]
    fast = [RequestRecord(T0 + 12 + i * 0.5, 0.02, "checkout", 503, retry_after=True)
            for i in range(20)]
    params = {"name": "checkout", "window": "breaker-open", "dependency": "payments"}
    opened = {"breaker:payments": _states((9.5, "closed"), (11.5, "closed"), (12, "open"),
                                          (26, "closed"))}
    obs = _obs(records=slow + fast, series=opened)
    assert compute("p99_s", obs, {"name": "checkout"}) == 1.5  # the whole fault window
    assert compute("p99_s", obs, params) == 0.02
    # a breaker that answers slowly while open still fails the bound
    sluggish = _obs(records=slow + [RequestRecord(T0 + 13, 1.2, "checkout", 503)],
                    series=opened)
    assert compute("p99_s", sluggish, params) == 1.2
    # no breaker opened (the negative control): nothing observed, the verdict fails
    never = _obs(records=slow + fast,
                 series={"breaker:payments": _states((9.5, "closed"), (26, "closed"))})
    assert compute("p99_s", never, params) is None
    with pytest.raises(ValueError, match="needs params.dependency"):
        compute("p99_s", obs, {"name": "checkout", "window": "breaker-open"})


def test_orders_numbers() -> None:
    obs = _obs(orders={"accepted": 20, "by_status": {"COMPLETED": 17, "CANCELLED": 2,
                                                     "PENDING": 1}, "duplicates": 0})
    assert compute("orders_lost", obs, {}) == 1
    assert compute("orders_completed", obs, {}) == 17
    assert compute("duplicate_orders", obs, {}) == 0
    assert compute("orders_lost", _obs(), {}) is None


def test_replacement_from_supervisor_events() -> None:
    events = [{"ts": T0 + 5, "kind": "replaced", "process": "storefront-1", "seconds": 9.0},
              {"ts": T0 + 16, "kind": "replaced", "process": "storefront-2", "seconds": 4.2},
              {"ts": T0 + 17, "kind": "replaced", "process": "payments-1", "seconds": 7.0},
              {"ts": T0 + 18, "kind": "died", "process": "storefront-1"}]
    obs = _obs(events=events)
    assert compute("replacement_s", obs, {"service": "storefront"}) == 4.2
    assert compute("replicas_replaced", obs, {"service": "storefront"}) == 1


def test_evaluate_and_judge() -> None:
    obs = _obs(orders={"accepted": 3, "by_status": {"COMPLETED": 3}, "duplicates": 0})
    ok = evaluate({"metric": "orders_lost", "equals": 0}, obs)
    assert ok.passed and ok.observed == 0 and ok.expected == "== 0"
    missing = evaluate({"metric": "time_to_breaker_open_s", "params": {"dependency": "x"},
                        "max": 10}, obs)
    assert not missing.passed and missing.detail == "not observed"
    assert judge({"clean": True}, {"path": "clean", "equals": True})
    assert not judge(None, {"max": 3})
    assert not judge(True, {"max": 3})
    assert judge(2, {"min": 1, "max": 3}) and not judge(4, {"min": 1, "max": 3})
    assert judge("OK", {"in": ["OK", "INSUFFICIENT_DATA"]})


def test_standard_numbers_cover_what_was_observed() -> None:
    obs = _obs(series={"breaker:payments": _states((12, "open"), (30, "closed"))},
               records=[RequestRecord(T0 + 11, 0.2, "checkout", 503, True)],
               orders={"accepted": 1, "by_status": {"COMPLETED": 1}, "duplicates": 0})
    numbers = standard_numbers(obs, {"breakers": ["payments"]})
    assert numbers["time_to_breaker_open_s[payments]"] == 2.0
    assert numbers["time_to_breaker_closed_s[payments]"] == 5.0
    assert numbers["checkout_503_retry_after_ratio"] == 1.0
    assert numbers["orders_lost"] == 0


def test_record_helpers() -> None:
    assert percentile([], 99) is None
    assert percentile([1, 2, 3, 4], 50) == 2
    assert percentile(list(range(1, 101)), 99) == 99
    assert rate([], 500) is None
    records = [RequestRecord(T0 + 0.5, 0.1, "x", 200), RequestRecord(T0 + 1.2, 0.1, "x", 503),
               RequestRecord(T0 + 1.5, 0.1, "x", 0)]
    buckets = per_second(records, T0, T0 + 2)
    assert [(b["ok"], b["rejected"], b["errors"]) for b in buckets] == [(1, 0, 0), (0, 1, 1)]


@pytest.mark.parametrize(("status", "retry_after", "failed"), [
    (200, False, False), (409, False, False), (429, False, False), (503, True, False),
    (503, False, True), (500, False, True), (0, False, True), (502, True, True),
])
def test_what_counts_against_the_error_budget(status: int, retry_after: bool,
                                               failed: bool) -> None:
    assert failed_request(RequestRecord(T0, 0.1, "x", status, retry_after)) is failed


def test_the_error_budget_is_a_verdict_on_the_probe_load() -> None:
    records = [RequestRecord(T0 + i * 0.5, 0.1, "x", 200) for i in range(95)]
    records += [RequestRecord(T0 + 50, 0.1, "checkout", 503, True)] * 2  # clean sheds
    records += [RequestRecord(T0 + 12, 0.1, "x", 0), RequestRecord(T0 + 13, 0.1, "x", 502),
                RequestRecord(T0 + 14, 0.1, "x", 503)]  # 3 failed of 100
    obs = _obs(records=records)
    numbers = standard_numbers(obs, {}, budget_ratio=0.01)
    assert (numbers["error_budget_requests"], numbers["error_budget_failed"]) == (100, 3)
    assert numbers["error_budget_used"] == 3.0
    tight = error_budget_verdict(obs, 0.01)
    assert tight is not None and not tight.passed and tight.observed == 3.0
    assert tight.expected == "<= 100 %" and tight.detail == "3 failed of 100 requests; " \
        "1.0 allowed"
    loose = error_budget_verdict(obs, 0.05)
    assert loose is not None and loose.passed and loose.observed == 0.6
    assert error_budget_verdict(_obs(records=None), 0.01) is None  # nothing to judge


def test_recovery_is_the_replicas_return_plus_closed_after_it() -> None:
    """The summary's recovery and the budget's "closed after the replicas return" are two
    numbers of one timeline: recovery = replicas back + closed after their return."""
    series = {"breaker:payments": _states((5, "closed"), (11, "open"), (26, "open"),
                                          (27, "half_open"), (28, "open"), (33.5, "closed"),
                                          (40, "closed"))}
    events = [{"kind": "died", "process": "payments-1", "ts": T0 + 10},
              {"kind": "replaced", "process": "payments-2", "ts": T0 + 27.2},
              {"kind": "replaced", "process": "payments-1", "ts": T0 + 26.7},
              {"kind": "replaced", "process": "storefront-1", "ts": T0 + 20}]
    numbers = standard_numbers(_obs(series=series, events=events), {"breakers": ["payments"]})
    assert numbers["time_to_breaker_closed_s[payments]"] == 8.5  # fault ended at 25 s
    assert numbers["replicas_back_s[payments]"] == 1.7
    assert numbers["breaker_closed_after_return_s[payments]"] == 6.8
    # a breaker fault without killed replicas has no return to measure from
    alone = standard_numbers(_obs(series=series), {"breakers": ["payments"]})
    assert "breaker_closed_after_return_s[payments]" not in alone
