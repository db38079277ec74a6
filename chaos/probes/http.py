"""A plain HTTP probe: the status code of one request to a loopback URL."""

from __future__ import annotations

from typing import Any

import requests

from chaos.context import ChaosContext


def status_of(ctx: ChaosContext, url: str, path: str = "", method: str = "GET",
              token: str | None = None, timeout_s: float = 3.0) -> int:
    """The HTTP status (0 when the request itself failed)."""
    headers: dict[str, Any] = {}
    if token:
        headers["Authorization"] = f"Bearer {ctx.token(token)}"
    try:
        resp = requests.request(method, ctx.url(url) + path, headers=headers, timeout=timeout_s)
    except requests.RequestException:
        return 0
    return resp.status_code
