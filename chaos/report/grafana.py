"""Grafana annotations for faults: POST /api/annotations {time, timeEnd, tags, text} when a
fault starts (timeEnd = its planned end), PATCH /api/annotations/{id} with the real end.

A thin, loopback-only wrapper over `dashboards.grafana_annotations` (grafana-client 3.x, which
uses requests: the 4.x and 5.x lines pull urllib3-future, which replaces urllib3 for every
package). Failures raise `dashboards.grafana_http.GrafanaError` with a readable message."""

from __future__ import annotations

from typing import Any

from chaos.safety import require_loopback
from dashboards.grafana_annotations import GrafanaAnnotations


class GrafanaClient:
    def __init__(self, url: str, token: str | None = None, timeout_s: float = 3.0) -> None:
        self.url = require_loopback(url, "Grafana").rstrip("/")
        self.timeout_s = timeout_s
        self._annotations = GrafanaAnnotations(self.url, token, timeout_s, allow_remote=False)

    def annotate(self, start: float, end: float, tags: list[str], text: str) -> Any:
        """Create a region annotation; returns its id."""
        return self._annotations.annotate(start, end, tags, text)

    def set_end(self, annotation_id: Any, end: float) -> None:
        self._annotations.set_end(annotation_id, end)
