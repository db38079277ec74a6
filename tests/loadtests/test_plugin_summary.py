"""The listeners wired into Locust: init (host, shape, contention), quitting (gates, summary)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment

from loadtests import plugin
from loadtests.catalog import discover_catalog_size
from loadtests.config import add_arguments, run_config
from loadtests.counters import counters_for
from loadtests.journeys.browser import BrowserUser
from loadtests.journeys.cart_contention import CartContentionUser
from loadtests.shapes import SpikeShape
from local_stack.state import write_state


def parse(*argv: str) -> Any:
    parser = LocustArgumentParser(prog="locust")
    parser.add_argument("--host", "-H", default=None)
    parser.add_argument("--headless", action="store_true")
    parser.add_argument("-u", dest="num_users", type=int, default=None)
    parser.add_argument("-r", dest="spawn_rate", type=float, default=None)
    parser.add_argument("-t", dest="run_time", type=int, default=None)
    add_arguments(parser)
    return parser.parse_args(list(argv))


def init(*argv: str) -> Environment:
    options = parse("--headless", *argv)
    environment = Environment(user_classes=[BrowserUser, CartContentionUser],
                              host=options.host, parsed_options=options)
    runner = environment.create_local_runner()
    plugin.on_init(environment, runner=runner, web_ui=None)
    return environment


@pytest.fixture(autouse=True)
def _restore_fixed_count() -> Any:
    yield
    CartContentionUser.fixed_count = 0


def test_host_from_the_state_file(tmp_path: Path) -> None:
    write_state({"urls": {"storefront": "http://127.0.0.1:4321"}}, tmp_path)
    environment = init("--state-dir", str(tmp_path), "--seed", "7", "--think-time", "0:0.5")
    assert environment.host == "http://127.0.0.1:4321"
    config = run_config(environment)
    assert (config.seed, config.think_time) == (7, (0.0, 0.5))


def test_setup_errors_exit_2(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        init("--state-dir", str(tmp_path / "none"))
    assert info.value.code == 2 and "no running stack" in caplog.text
    with pytest.raises(SystemExit) as info:
        init("--host", "http://10.9.8.7:80")
    assert info.value.code == 2 and "refusing to load" in caplog.text
    assert init("--host", "http://10.9.8.7:80", "--allow-remote").host == "http://10.9.8.7:80"


def test_shape_and_contention_users() -> None:
    environment = init("--host", "http://127.0.0.1:1", "--shape", "spike", "-u", "2",
                       "-t", "20", "--contention-users", "3")
    assert isinstance(environment.shape_class, SpikeShape)
    assert environment.shape_class.runner is environment.runner
    assert CartContentionUser.fixed_count == 3
    assert init("--host", "http://127.0.0.1:1").shape_class is None


def test_quitting_evaluates_gates_and_writes_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "out" / "summary.json"
    environment = init("--host", "http://127.0.0.1:1", "--gate-p99", "/v1/products/{sku}=50",
                       "--gate-failure-ratio", "0.5", "--json-summary", str(out),
                       "--shape", "steady", "-u", "3")
    stats = environment.stats
    for ms in (10, 20, 200):
        stats.log_request("GET", "/v1/products/{sku}", ms, 10)
    stats.log_request("POST", "/v1/carts/{cart_id}/items", 30, 10)
    counters_for(environment).add("conflicts.http_409", "/v1/carts/{cart_id}/items", 2)
    counters_for(environment).add("conflicts.occ_retries", "/v1/carts/{cart_id}/items", 5)
    plugin.on_quitting(environment)
    assert environment.process_exit_code == 1
    summary = json.loads(out.read_text())
    assert summary["seed"] == 42 and summary["exit_code"] == 1
    assert summary["shape"]["shape"] == "SteadyShape" and summary["shape"]["users"] == 3
    assert summary["conflicts"] == {"total": 7, "http_409": 2, "occ_retries": 5}
    routes = {(r["method"], r["name"]): r for r in summary["routes"]}
    product = routes[("GET", "/v1/products/{sku}")]
    assert product["requests"] == 3 and product["p99_ms"] == 200 and product["p50_ms"] == 20
    assert summary["total"]["requests"] == 4
    results = {r["gate"]: r for r in summary["gates"]["results"]}
    assert not summary["gates"]["passed"]
    assert results["p99 /v1/products/{sku}"]["observed"] == 200
    assert results["failure_ratio"]["passed"]


def test_test_start_resets_and_discovers_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = init("--host", "http://127.0.0.1:1")
    monkeypatch.setattr(plugin, "catalog_size_of", lambda host: 33)
    counters_for(environment).add("x", "y")
    environment.events.test_start.fire(environment=environment)  # counters listener
    plugin.on_test_start(environment)
    assert run_config(environment).catalog_size == 33
    assert counters_for(environment).snapshot() == {}


def test_catalog_discovery() -> None:
    for size in (0, 1, 2, 3, 40, 41, 64, 120, 5000):
        probes: list[int] = []

        def exists(n: int, size: int = size, probes: list[int] = probes) -> bool:
            probes.append(n)
            return n <= size

        assert discover_catalog_size(exists) == size
        assert len(probes) <= 2 * max(size, 2).bit_length() + 2
