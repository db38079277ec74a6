"""SLO gates: parsing (errors name the argument), evaluation on real Locust statistics, verdict."""

from __future__ import annotations

import argparse
import logging
from types import SimpleNamespace

import pytest
from locust.argument_parser import LocustArgumentParser
from locust.stats import RequestStats

from loadtests.config import add_arguments
from loadtests.gates import (
    Gate,
    GateParseError,
    apply_verdict,
    evaluate,
    evaluate_gate,
    gates_from_options,
    parse_ratio,
    parse_route_limit,
    parse_rps,
)


def make_stats(samples: dict[tuple[str, str], list[int]], failures: dict | None = None,
               duration_s: float = 10.0) -> RequestStats:
    stats = RequestStats()
    for (method, name), times in samples.items():
        for ms in times:
            stats.log_request(method, name, ms, 100)
    for (method, name), count in (failures or {}).items():
        for _ in range(count):
            stats.log_request(method, name, 5, 0)
            stats.log_error(method, name, "boom")
    stats.total.last_request_timestamp = stats.total.start_time + duration_s
    return stats


def parser() -> LocustArgumentParser:
    p = LocustArgumentParser(prog="locust")
    add_arguments(p)
    return p


# -- parsing ------------------------------------------------------------------------------
def test_parse_route_limit() -> None:
    assert parse_route_limit("/v1/products/{sku}=500") == (None, "/v1/products/{sku}", 500.0)
    assert parse_route_limit("GET /v1/products/{sku}=250.5") == ("GET", "/v1/products/{sku}",
                                                                  250.5)
    assert parse_route_limit("post /v1/carts/{cart_id}/items = 300ms") == (
        "POST", "/v1/carts/{cart_id}/items", 300.0)
    assert parse_route_limit("/v1/products?q={q}=80") == (None, "/v1/products?q={q}", 80.0)
    assert parse_route_limit("Aggregated=800") == (None, "Aggregated", 800.0)
    assert parse_route_limit("*=800") == (None, "Aggregated", 800.0)
    assert parse_route_limit("/x=0") == (None, "/x", 0.0)


@pytest.mark.parametrize("text, fragment", [
    ("/v1/products/{sku}", "expected ROUTE=MILLISECONDS"),
    ("=500", "expected ROUTE=MILLISECONDS"),
    ("/v1/products/{sku}=", "expected ROUTE=MILLISECONDS"),
    ("/v1/products/{sku}=fast", "must be a number"),
    ("/v1/products/{sku}=-5", ">= 0"),
    ("/v1/products/{sku}=nan", "finite"),
    ("products=5", "must be a route template starting with /"),
])
def test_parse_route_limit_errors_name_the_argument(text: str, fragment: str) -> None:
    with pytest.raises(GateParseError) as info:
        parse_route_limit(text, "--gate-p95")
    assert str(info.value).startswith("--gate-p95 ")
    assert fragment in str(info.value)


def test_parse_ratio_and_rps() -> None:
    assert parse_ratio("0.01") == 0.01
    assert parse_rps("20") == 20.0
    with pytest.raises(GateParseError, match="--gate-failure-ratio '5': a ratio is between"):
        parse_ratio("5")
    with pytest.raises(GateParseError, match="--gate-min-rps 'many'"):
        parse_rps("many")


def test_command_line_gates() -> None:
    options = parser().parse_args([
        "--gate-failure-ratio", "0.01", "--gate-p99", "/v1/products/{sku}=500",
        "--gate-p99", "GET /v1/weekly-products=300", "--gate-p95", "Aggregated=200",
        "--gate-min-rps", "20"])
    assert gates_from_options(options) == [
        Gate("failure_ratio", 0.01),
        Gate("p95", 200.0, "Aggregated"),
        Gate("p99", 500.0, "/v1/products/{sku}"),
        Gate("p99", 300.0, "/v1/weekly-products", "GET"),
        Gate("min_rps", 20.0),
    ]
    assert gates_from_options(parser().parse_args([])) == []


def test_command_line_error_names_the_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parser().parse_args(["--gate-p99", "/v1/products/{sku}:500"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --gate-p99" in err and "expected ROUTE=MILLISECONDS" in err


def test_string_values_from_config_files_are_parsed_too() -> None:
    options = SimpleNamespace(gate_failure_ratio="0.5", gate_p95=["/a=1"], gate_p99=None,
                              gate_min_rps="3")
    assert gates_from_options(options) == [Gate("failure_ratio", 0.5), Gate("p95", 1.0, "/a"),
                                           Gate("min_rps", 3.0)]
    with pytest.raises(GateParseError, match="--gate-p95"):
        gates_from_options(SimpleNamespace(gate_p95=["nope"]))


# -- evaluation ---------------------------------------------------------------------------
def test_percentile_gates() -> None:
    stats = make_stats({("GET", "/v1/products/{sku}"): [10] * 98 + [900, 900]})
    met = evaluate_gate(Gate("p95", 50, "/v1/products/{sku}"), stats)
    assert met.passed and met.observed == 10
    missed = evaluate_gate(Gate("p99", 500, "/v1/products/{sku}"), stats)
    assert not missed.passed and missed.observed == 900
    assert "900 ms, limit 500 ms: over by 400 ms" in missed.message
    assert evaluate_gate(Gate("p99", 1000, "Aggregated"), stats).passed


def test_impossible_gate_always_misses() -> None:
    stats = make_stats({("GET", "/x"): [1, 2, 3]})
    assert not evaluate_gate(Gate("p99", 0, "Aggregated"), stats).passed


def test_route_without_requests_fails_its_gate() -> None:
    result = evaluate_gate(Gate("p99", 500, "/v1/orders/{order_id}"), make_stats({}))
    assert not result.passed and result.observed is None
    assert "no requests" in result.message


def test_methods_are_pooled_unless_named() -> None:
    stats = make_stats({("GET", "/r"): [10] * 50, ("POST", "/r"): [1000] * 50})
    assert evaluate_gate(Gate("p95", 20, "/r", "GET"), stats).passed
    assert not evaluate_gate(Gate("p95", 20, "/r", "POST"), stats).passed
    pooled = evaluate_gate(Gate("p95", 20, "/r"), stats)
    assert not pooled.passed and pooled.observed == 1000


def test_failure_ratio_and_throughput() -> None:
    stats = make_stats({("GET", "/a"): [5] * 198}, failures={("GET", "/a"): 2}, duration_s=10)
    ratio_ok = evaluate_gate(Gate("failure_ratio", 0.01), stats)
    assert ratio_ok.passed and ratio_ok.observed == pytest.approx(0.01)
    assert not evaluate_gate(Gate("failure_ratio", 0.005), stats).passed
    rps = evaluate_gate(Gate("min_rps", 20), stats)
    assert rps.passed and rps.observed == pytest.approx(20.0)
    missed = evaluate_gate(Gate("min_rps", 25), stats)
    assert not missed.passed and "short by 5.00 req/s" in missed.message
    assert not evaluate_gate(Gate("min_rps", 1), RequestStats()).passed


# -- verdict ------------------------------------------------------------------------------
def test_verdict_sets_exit_code_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    stats = make_stats({("GET", "/a"): [100] * 10})
    env = SimpleNamespace(process_exit_code=None)
    with caplog.at_level(logging.INFO, logger="loadtests.gates"):
        assert not apply_verdict(env, evaluate([Gate("p99", 50, "/a"),
                                               Gate("min_rps", 0.5)], stats))
    assert env.process_exit_code == 1
    assert "SLO gate MISSED: p99 /a = 100 ms, limit 50 ms: over by 50 ms" in caplog.text
    assert "SLO gate met: throughput" in caplog.text


def test_verdict_when_all_gates_pass() -> None:
    stats = make_stats({("GET", "/a"): [100] * 10})
    env = SimpleNamespace(process_exit_code=None)
    assert apply_verdict(env, evaluate([Gate("p99", 500, "/a")], stats))
    assert env.process_exit_code is None  # Locust's own rule (failures -> 1) still applies
    assert apply_verdict(env, evaluate([Gate("failure_ratio", 0.1)], stats))
    assert env.process_exit_code == 0  # the failure-ratio gate judges failures
    assert apply_verdict(env, [])


def test_argparse_type_error_is_argparse_error() -> None:
    p = argparse.ArgumentParser(prog="x", exit_on_error=False)
    add_arguments(p)
    with pytest.raises(argparse.ArgumentError, match="--gate-min-rps"):
        p.parse_args(["--gate-min-rps", "-1"])
