"""The metric sources the dashboards add: the Locust exporter (from Locust's real statistics
objects), the saga exporter's summary of the tables, and the Prometheus target lists."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from loadtests.prometheus_exporter import build_registry, histogram_buckets
from local_stack.prometheus_targets import targets_from_state, write_targets
from local_stack.saga_exporter import SagaSnapshot, summarize
from tests.locust_unpatched import locust_without_gevent_patch

with locust_without_gevent_patch():
    from locust.stats import RequestStats


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_histogram_buckets_are_cumulative_seconds() -> None:
    buckets = dict(histogram_buckets({3: 2, 12: 1, 600: 1}, (5, 10, 25, 1000)))
    assert buckets == {"0.005": 2.0, "0.01": 2.0, "0.025": 3.0, "1.0": 4.0, "+Inf": 4.0}


def test_locust_exporter_reads_the_run() -> None:
    stats = RequestStats()
    for ms in (10, 20, 30, 40, 400):
        stats.log_request("GET", "/v1/products/{sku}", ms, 100)
    stats.log_request("POST", "/v1/carts/{cart_id}/checkout", 90, 10)
    stats.log_error("POST", "/v1/carts/{cart_id}/checkout", "503 dependency_unavailable")
    env = SimpleNamespace(stats=stats, runner=SimpleNamespace(
        user_count=7, worker_count=2, state="running"))
    from loadtests.counters import counters_for

    counters_for(env).add("conflicts.http_409", "/v1/carts/{cart_id}/items", 3)
    samples = _samples(generate_latest(build_registry(env)))

    def value(metric: str, **labels: str) -> float:
        return samples[(metric, tuple(sorted(labels.items())))]

    assert value("locust_users") == 7 and value("locust_workers") == 2
    assert value("locust_runner_state", state="running") == 1
    assert value("locust_runner_state", state="stopped") == 0
    assert value("locust_requests_total", method="GET", name="/v1/products/{sku}") == 5
    assert value("locust_requests_total", method="", name="Aggregated") == 6
    assert value("locust_failures_total", method="POST",
                 name="/v1/carts/{cart_id}/checkout") == 1
    assert value("locust_errors_total", method="POST", name="/v1/carts/{cart_id}/checkout",
                 error="503 dependency_unavailable") == 1
    product = {"method": "GET", "name": "/v1/products/{sku}"}
    assert value("locust_response_time_seconds_bucket", le="0.025", **product) == 2
    assert value("locust_response_time_seconds_bucket", le="+Inf", **product) == 5
    assert value("locust_response_time_seconds_count", **product) == 5
    assert value("locust_response_time_seconds_sum", **product) == pytest.approx(0.5)
    assert value("locust_response_time_percentile_seconds", quantile="0.99",
                 **product) == pytest.approx(0.4)
    assert value("locust_gameday_events_total", counter="conflicts.http_409",
                 route="/v1/carts/{cart_id}/items") == 3


T0 = 1_700_000_000


def test_saga_summary_counts_orders_and_places_the_stock() -> None:
    orders = [
        {"OrderId": "o1", "Status": "COMPLETED", "CreatedAt": T0 + 100},
        {"OrderId": "o2", "Status": "PENDING", "CreatedAt": T0 + 150},
        {"OrderId": "o3", "Status": "RESERVED", "CreatedAt": (T0 + 130) * 1000},  # in ms
        {"OrderId": "o4", "Status": "CANCELLED", "CancelReason": "ON_FAILURE:shop-inventory"},
        {"OrderId": "o5", "Status": "CANCELLED"},
        {"OrderId": "heartbeat", "Heartbeat": 1, "Status": "PENDING"},
    ]
    products = [
        {"ProductId": "SKU-1", "TranId": "0", "Qty": 5, "InitialQty": 10},
        {"ProductId": "SKU-2", "TranId": "0", "Qty": 0, "InitialQty": 4},
        {"ProductId": "SKU-1", "TranId": "o1#SUB", "Action": "SUB", "Qty": 2},
        {"ProductId": "SKU-1", "TranId": "o3#SUB", "Action": "SUB", "Qty": 3},
        {"ProductId": "SKU-2", "TranId": "o4#SUB", "Action": "SUB", "Qty": 4},
        {"ProductId": "SKU-2", "TranId": "o4#ADD", "Action": "ADD", "Qty": 4},
        {"ProductId": "SKU-2", "TranId": "o9#SUB", "Action": "SUB", "Qty": 0},
    ]
    snap = summarize(orders, products, now=T0 + 200)
    assert snap.orders == {"AUTHORIZING": 0, "PENDING": 1, "RESERVED": 1, "PAID": 0,
                           "COMPLETED": 1, "CANCELLED": 2}
    assert snap.in_flight == 2
    assert snap.oldest_in_flight_age_s == 70.0  # o3 (130 s) is older than o2 (150 s)
    assert snap.cancel_reasons == {"ON_FAILURE:shop-inventory": 1, "unknown": 1}
    assert snap.stock == {"on_hand": 5.0, "initial": 14.0, "reserved": 3.0, "sold": 2.0,
                          "awaiting_release": 0.0}
    assert snap.out_of_stock == 1
    gap = snap.stock["initial"] - sum(v for k, v in snap.stock.items() if k != "initial")
    assert gap == 4  # SKU-2's 4 units were sold before this data was made up: not conserved


def test_saga_summary_of_nothing() -> None:
    snap = summarize([], [], now=1.0)
    assert snap == SagaSnapshot() and snap.in_flight == 0


def test_prometheus_targets_from_a_state_file(tmp_path: Path) -> None:
    state = {
        "services": {
            "storefront": {"replicas": [{"name": "storefront-1", "port": 1001},
                                        {"name": "storefront-2", "port": 1002}]},
            "payments": {"replicas": [{"name": "payments-1", "port": 2001}]},
            "reviews": {"replicas": [{"name": "reviews-1", "port": None}]},
        },
        "urls": {"stream_runtime_metrics": "http://127.0.0.1:3001/metrics",
                 "alarm_evaluator_metrics": "http://127.0.0.1:3002/metrics"},
    }
    jobs = targets_from_state(state, {"saga": "127.0.0.1:9110"})
    assert jobs["storefront"] == [
        {"targets": ["127.0.0.1:1001"], "labels": {"replica": "storefront-1", "env": "local"}},
        {"targets": ["127.0.0.1:1002"], "labels": {"replica": "storefront-2", "env": "local"}}]
    assert jobs["reviews"] == []
    assert jobs["stream_runtime"][0]["targets"] == ["127.0.0.1:3001"]
    assert jobs["saga"][0]["targets"] == ["127.0.0.1:9110"]
    paths = write_targets(jobs, tmp_path)
    assert {p.name for p in paths} == {"storefront.json", "payments.json", "reviews.json",
                                       "stream_runtime.json", "alarm_evaluator.json",
                                       "saga.json"}
    assert json.loads((tmp_path / "payments.json").read_text())[0]["targets"] == [
        "127.0.0.1:2001"]


def test_the_in_flight_panel_shows_every_status_the_exporter_counts() -> None:
    from dashboards import grafana_build
    from local_stack.saga_exporter import IN_FLIGHT

    panels = json.dumps(grafana_build.saga())
    expr = next(part for part in panels.split('"expr": ')
                if part.startswith('"max by (status) (shop_saga_orders{status=~') and
                "PENDING" in part.split("}")[0])
    shown = set(expr.split('=~\\"')[1].split('\\"')[0].split("|"))
    assert shown == set(IN_FLIGHT)  # AUTHORIZING was missing
