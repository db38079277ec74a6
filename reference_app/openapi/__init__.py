"""The OpenAPI 3.0 documents of the services (`<service>.yaml` beside this file), loaded once
with PyYAML and served as GET /openapi.json.

A package (not a plain folder) so the YAML files ship as package data in a normal install.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import Flask, Response, jsonify

SPEC_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=8)
def load_spec(service: str) -> dict[str, Any]:
    """The parsed OpenAPI document of `service` (FileNotFoundError naming the path)."""
    path = SPEC_DIR / f"{service}.yaml"
    with path.open(encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3.0"):
        raise ValueError(f"{path} is not an OpenAPI 3.0 document")
    return spec


def install(app: Flask, service: str) -> None:
    """Serve the document of `service` at GET /openapi.json (loaded at startup)."""
    spec = load_spec(service)

    @app.get("/openapi.json")
    def openapi_view() -> Response:
        return jsonify(spec)
