"""Locust statistics: the web UI's `/stats/requests` JSON, or the `<prefix>_stats.csv` file a
headless run writes with `--csv`. Output: {requests, failures, fail_ratio, rps, p99_ms}.
Read by the Locust load driver (its summary) and by the `locust` probe."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import requests

from chaos.safety import require_loopback


def from_web(url: str, timeout_s: float = 3.0) -> dict[str, Any]:
    require_loopback(url, "Locust web UI")
    data = requests.get(url.rstrip("/") + "/stats/requests", timeout=timeout_s).json()
    total = next((s for s in data.get("stats", []) if s.get("name") == "Aggregated"), None)
    if total is None:
        return {"requests": 0, "failures": 0, "fail_ratio": data.get("fail_ratio", 0.0),
                "rps": data.get("total_rps", 0.0), "p99_ms": None, "state": data.get("state")}
    return {
        "requests": int(total.get("num_requests", 0)),
        "failures": int(total.get("num_failures", 0)),
        "fail_ratio": float(data.get("fail_ratio", 0.0)),
        "rps": float(data.get("total_rps", total.get("current_rps", 0.0))),
        "p99_ms": (data.get("current_response_time_percentiles") or {}).get(
            "response_time_percentile_0.99"),
        "state": data.get("state"),
    }


def from_csv(path: str | Path) -> dict[str, Any]:
    """The Aggregated row of a Locust `_stats.csv`."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    total = next((r for r in rows if r.get("Name") == "Aggregated"), None)
    if total is None:
        raise ValueError(f"{path} has no Aggregated row")
    requests_n = int(float(total.get("Request Count", 0) or 0))
    failures = int(float(total.get("Failure Count", 0) or 0))
    p99 = total.get("99%")
    return {
        "requests": requests_n,
        "failures": failures,
        "fail_ratio": failures / requests_n if requests_n else 0.0,
        "rps": float(total.get("Requests/s", 0) or 0),
        "p99_ms": float(p99) if p99 not in (None, "", "N/A") else None,
    }
