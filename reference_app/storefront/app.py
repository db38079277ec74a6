"""The storefront's Flask app factory."""

from __future__ import annotations

from flask import Flask

from reference_app.config import Settings
from reference_app.metrics import add_scrape_hook
from reference_app.service_app import base_app
from reference_app.storefront import admin, cart_api, catalog_api, order_api, shoppers_api
from reference_app.storefront.context import Storefront

SERVICE = "storefront"


def create_app(settings: Settings | None = None) -> Flask:
    """The storefront app (settings from the environment when not given)."""
    settings = settings or Settings.from_env()
    app = base_app(SERVICE, settings)
    shop = Storefront.build(settings)
    shop.install(app)
    add_scrape_hook(app, shop.breakers.sync_all)
    for blueprint in (shoppers_api.bp, catalog_api.bp, cart_api.bp, order_api.bp, admin.bp):
        app.register_blueprint(blueprint)
    return app
