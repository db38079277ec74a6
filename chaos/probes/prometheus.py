"""Scrape a Prometheus /metrics endpoint and read samples (prometheus_client's parser)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

from chaos.safety import require_loopback


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def scrape(url: str, timeout_s: float = 2.0) -> list[Sample]:
    """Every sample exposed at `url` (loopback only)."""
    require_loopback(url, "metrics endpoint")
    resp = requests.get(url, timeout=timeout_s)
    resp.raise_for_status()
    return parse(resp.text)


def parse(text: str) -> list[Sample]:
    return [
        Sample(s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def select(samples: Iterable[Sample], name: str, labels: Mapping[str, str] | None = None
           ) -> list[Sample]:
    """Samples named `name` whose labels include `labels`."""
    want = dict(labels or {})
    return [s for s in samples if s.name == name
            and all(s.labels.get(k) == str(v) for k, v in want.items())]


def total(samples: Iterable[Sample], name: str, labels: Mapping[str, str] | None = None
          ) -> float:
    return sum(s.value for s in select(samples, name, labels))


def maximum(samples: Iterable[Sample], name: str, labels: Mapping[str, str] | None = None
            ) -> float | None:
    values = [s.value for s in select(samples, name, labels)]
    return max(values) if values else None
