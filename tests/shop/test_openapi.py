"""Every route of every service is in its OpenAPI document, and every documented operation
exists (no network: the apps are built, not served)."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from reference_app.config import Settings
from reference_app.openapi import load_spec

HTTP_METHODS = {"get", "post", "put", "delete", "patch"}


def _app(service: str, settings: Settings) -> Flask:
    if service == "storefront":
        from reference_app.storefront.app import create_app
    elif service == "payments":
        from reference_app.payments.app import create_app
    else:
        from reference_app.reviews.app import create_app
    return create_app(settings)


@pytest.mark.parametrize("service", ["storefront", "payments", "reviews"])
def test_routes_and_document_agree(service: str) -> None:
    # building an app touches no network (Redis and AWS clients connect lazily)
    app = _app(service, Settings(service_name=service, redis_url="redis://127.0.0.1:1/0",
                                 aws_endpoint_url="http://127.0.0.1:1"))
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method.lower() in HTTP_METHODS:
                served.add((path, method.lower()))
    spec = load_spec(service)
    documented = {(path, method) for path, item in spec["paths"].items()
                  for method in item if method in HTTP_METHODS}
    assert served == documented
    for path, method in documented:
        operation = spec["paths"][path][method]
        assert operation.get("summary") and operation.get("responses"), (path, method)


@pytest.mark.parametrize("service", ["storefront", "payments", "reviews"])
def test_documents_are_valid_openapi_3(service: str) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(load_spec(service))
