"""What every service has: correlation IDs, JSON errors for everything, RED metrics by route
template, /health, /metrics, /openapi.json (Flask test client; no network)."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from reference_app.config import Settings
from reference_app.correlation import (
    HEADER,
    CorrelationFilter,
    correlation_scope,
    get_correlation_id,
    outgoing_headers,
)
from reference_app.errors import ApiError
from reference_app.logging_setup import configure_logging
from reference_app.service_app import base_app


@pytest.fixture
def app() -> Flask:
    app = base_app("reviews", Settings(service_name="reviews", replica_id="9",
                                       max_body_bytes=256))

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internal detail")

    @app.get("/teapot")
    def teapot() -> str:
        raise ApiError(409, "conflict_here", "a conflict", field="x")

    @app.get("/cid")
    def cid() -> dict[str, str | None]:
        return {"cid": get_correlation_id(), **outgoing_headers()}

    @app.get("/items/<item_id>")
    def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @app.post("/echo")
    def echo() -> dict[str, int]:
        from flask import request
        return {"len": len(request.get_data())}

    return app


def test_health(app: Flask) -> None:
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "service": "reviews", "replica": "9"}


def test_correlation_id_is_taken_or_generated(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/cid", headers={HEADER: "abc-123.x:y_z"})
    assert response.headers[HEADER] == "abc-123.x:y_z"
    assert response.json == {"cid": "abc-123.x:y_z", HEADER: "abc-123.x:y_z"}
    for bad in ("has space", "x" * 129, "semi;colon", ""):
        response = client.get("/cid", headers={HEADER: bad})
        generated = response.headers[HEADER]
        assert generated != bad and len(generated) == 32
        assert response.json["cid"] == generated
    assert get_correlation_id() is None  # nothing leaks out of the request


def test_every_error_is_json_with_the_correlation_id(app: Flask,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    client = app.test_client()
    caplog.set_level(logging.ERROR)
    cases = {
        ("GET", "/nope"): (404, "not_found"),
        ("DELETE", "/health"): (405, "method_not_allowed"),
        ("GET", "/boom"): (500, "internal_error"),
        ("GET", "/teapot"): (409, "conflict_here"),
        ("POST", "/echo"): (413, "body_too_large"),
    }
    for (method, path), (status, code) in cases.items():
        response = client.open(path, method=method, data=b"x" * 1000 if path == "/echo" else None,
                               headers={HEADER: "trace-1"})
        assert response.status_code == status, path
        assert response.json["error"]["code"] == code
        assert response.json["correlation_id"] == "trace-1"
        assert response.headers[HEADER] == "trace-1"
    boom = client.get("/boom").json
    assert "secret" not in boom["error"]["message"]
    assert any("RuntimeError" in r.getMessage() and r.exc_info for r in caplog.records)
    assert client.delete("/health").headers["Allow"]
    assert client.get("/teapot").json["error"]["field"] == "x"


def test_red_metrics_use_route_templates(app: Flask) -> None:
    client = app.test_client()

    def count(route: str, status: str) -> float:
        return REGISTRY.get_sample_value("shop_http_requests_total", {
            "service": "reviews", "route": route, "method": "GET", "status": status}) or 0.0

    before = count("/items/<item_id>", "200"), count("unmatched", "404")
    client.get("/items/1")
    client.get("/items/2")
    client.get("/no/such/thing")
    assert count("/items/<item_id>", "200") - before[0] == 2
    assert count("unmatched", "404") - before[1] == 1
    text = client.get("/metrics").get_data(as_text=True)
    assert 'route="/items/<item_id>"' in text
    assert "shop_http_request_duration_seconds_bucket" in text


def test_openapi_is_served(app: Flask) -> None:
    spec = app.test_client().get("/openapi.json").json
    assert spec["openapi"].startswith("3.0")
    assert "/v1/products/{sku}/likes" in spec["paths"]


def test_log_lines_carry_service_replica_and_correlation_id() -> None:
    handler = configure_logging(Settings(service_name="svc", replica_id="7"))
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
        with correlation_scope("cid-42"):
            for flt in handler.filters:
                flt.filter(record)
        line = handler.format(record)
        assert "svc/7" in line and "[cid-42]" in line and "hello" in line
        outside = logging.LogRecord("x", logging.INFO, __file__, 1, "bye", None, None)
        CorrelationFilter().filter(outside)
        assert outside.correlation_id == "-"  # type: ignore[attr-defined]
    finally:
        logging.getLogger().removeHandler(handler)
