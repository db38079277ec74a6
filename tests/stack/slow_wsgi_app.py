"""A WSGI app factory for replica tests: each request takes SLOW_S seconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

SLOW_S = 0.2


def create_app() -> Callable[..., Iterable[bytes]]:
    def app(_environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(SLOW_S)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    return app
