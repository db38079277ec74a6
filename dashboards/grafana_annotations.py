"""Grafana annotations for faults: a region annotation tagged `chaos` and the fault's name when
a fault starts (`POST /api/annotations {time, timeEnd, tags, text}`, `timeEnd` = its planned
end), and its real end when it ends (`PATCH /api/annotations/:id {timeEnd}`). Every shop
dashboard shows the annotations tagged `chaos` (dashboards/grafana_build.py).

    annotations = GrafanaAnnotations("http://127.0.0.1:3000", token)
    with annotate_fault(annotations, "kill-replica", "kill storefront-1", planned_s=30):
        ...  # the fault is in effect

`chaos.report.grafana.GrafanaClient` (used by `chaos run --grafana-url`) is built on this.
Bodies carry only the fields Grafana needs: grafana-client's own helpers send `panelId: null`
and, for PATCH, `tags: []` (which would erase the tags).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dashboards.grafana_build import CHAOS_TAG  # the tag the dashboards' annotations query
from dashboards.grafana_http import GrafanaError, call, connect

log = logging.getLogger("dashboards.grafana_annotations")


def epoch_ms(seconds: float) -> int:
    return int(seconds * 1000)


class GrafanaAnnotations:
    """Create and close annotations in one Grafana (Bearer token, or user:password in the
    URL)."""

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 3.0,
                 allow_remote: bool = False) -> None:
        self.api = connect(url, token, timeout_s, allow_remote)

    def annotate(self, start: float, end: float, tags: Sequence[str], text: str) -> Any:
        """A region annotation from `start` to `end` (epoch seconds); returns its id."""
        body = {"time": epoch_ms(start), "timeEnd": epoch_ms(end), "tags": list(tags),
                "text": text}
        answer = call(self.api, "creating an annotation",
                      lambda: self.api.client.POST("/annotations", json=body))
        if not isinstance(answer, dict) or "id" not in answer:
            raise GrafanaError(f"creating an annotation: unexpected answer {str(answer)[:200]}")
        return answer["id"]

    def set_end(self, annotation_id: Any, end: float) -> None:
        """Move the annotation's end to `end` (epoch seconds)."""
        body = {"timeEnd": epoch_ms(end)}
        call(self.api, f"ending annotation {annotation_id}",
             lambda: self.api.client.PATCH(f"/annotations/{annotation_id}", json=body))

    def fault_started(self, fault: str, text: str, start: float | None = None,
                      planned_s: float | None = None, tags: Sequence[str] = ()) -> Any:
        """Annotate a fault from `start` (default now) to its planned end; tags `chaos`, the
        fault's name and `tags`. Returns the annotation id."""
        start = time.time() if start is None else start
        end = start + planned_s if planned_s else start
        all_tags = [CHAOS_TAG, fault, *[t for t in tags if t not in (CHAOS_TAG, fault)]]
        return self.annotate(start, end, all_tags, text)

    def fault_ended(self, annotation_id: Any, end: float | None = None) -> None:
        """Set the real end of a fault's annotation (default now)."""
        self.set_end(annotation_id, time.time() if end is None else end)


@contextmanager
def annotate_fault(annotations: GrafanaAnnotations | None, fault: str, text: str,
                   planned_s: float | None = None, tags: Sequence[str] = ()) -> Iterator[Any]:
    """Annotate a fault for the duration of the block; yields the annotation id (None when
    `annotations` is None or Grafana failed: annotations never fail a fault)."""
    annotation_id = None
    if annotations is not None:
        try:
            annotation_id = annotations.fault_started(fault, text, planned_s=planned_s,
                                                      tags=tags)
        except GrafanaError as exc:
            log.warning("fault annotation not created: %s", exc)
    try:
        yield annotation_id
    finally:
        if annotations is not None and annotation_id is not None:
            try:
                annotations.fault_ended(annotation_id)
            except GrafanaError as exc:
                log.warning("fault annotation %s not closed: %s", annotation_id, exc)
