"""What every shop service has in common: a Flask app with logging, correlation IDs, JSON errors,
X-Ray tracing, RED metrics (Prometheus, bridged to CloudWatch), body-size limit, GET /health,
GET /metrics and GET /openapi.json.

Each service's `create_app` calls `base_app` and then registers its own blueprints.
"""

from __future__ import annotations

from flask import Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from reference_app import aws, correlation, dependency_errors, errors, metrics, openapi, tracing
from reference_app.cloudwatch_bridge import start_publisher
from reference_app.config import Settings
from reference_app.fault_hooks import install_service_faults
from reference_app.logging_setup import configure_logging

SETTINGS_KEY = "shop.settings"


def base_app(service: str, settings: Settings) -> Flask:
    """A Flask app for `service` with the shared hooks installed."""
    configure_logging(settings)
    app = Flask(f"reference_app.{service}")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[SETTINGS_KEY] = settings
    correlation.install(app)
    metrics.install(app, service)
    errors.install(app)
    dependency_errors.install(app)
    openapi.install(app, service)
    tracing.install(app, service)
    install_service_faults(app, service, settings)

    def refresh_gauges() -> None:
        for hook in app.extensions.get(metrics.SCRAPE_HOOKS, []):
            hook()

    app.extensions["shop.cloudwatch"] = start_publisher(
        service, lambda: aws.client("cloudwatch", settings), refresh_gauges)

    @app.get("/health")
    def health() -> ResponseReturnValue:
        return jsonify(status="ok", service=service, replica=settings.replica_id)

    return app


def current_settings() -> Settings:
    """The settings of the app serving the current request."""
    return current_app.extensions[SETTINGS_KEY]
