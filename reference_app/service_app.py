"""What every shop service has in common: a Flask app with logging, correlation IDs, JSON errors,
RED metrics, body-size limit, GET /health, GET /metrics and GET /openapi.json.

Each service's `create_app` calls `base_app` and then registers its own blueprints.
"""

from __future__ import annotations

from flask import Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from reference_app import correlation, errors, metrics, openapi
from reference_app.config import Settings
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
    openapi.install(app, service)

    @app.get("/health")
    def health() -> ResponseReturnValue:
        return jsonify(status="ok", service=service, replica=settings.replica_id)

    return app


def current_settings() -> Settings:
    """The settings of the app serving the current request."""
    return current_app.extensions[SETTINGS_KEY]
