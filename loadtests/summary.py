"""The JSON summary of a run (`--json-summary PATH`), written when Locust quits.

Layout:
    {"seed", "host", "shape", "users", "started_at", "duration_s",
     "routes": [{"method", "name", "requests", "failures", "failure_ratio", "rps",
                 "p50_ms", "p95_ms", "p99_ms", "avg_ms", "max_ms"}],
     "total": {... same fields, name "Aggregated"},
     "gates": {"passed": bool, "results": [{"gate", "limit", "observed", "passed", "message"}]},
     "conflicts": {"total", "http_409", "occ_retries"},
     "counters": {metric: {"total", "by_route": {route: n}}},
     "errors": [{"method", "name", "error", "occurrences"}],
     "exit_code": the exit code the gates decided, or null (Locust's own rule),
     "workers": on a distributed master, what each worker reported
                [{"worker_index", "client_id", "requests", "failures", "final_report"}],
                else null,
     "pacing": a paced run's request (--rate): {"rate", "checkout_rate", "users", "buyers"}
               (loadtests.pacing.LoadMix), else null}
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from locust.stats import RequestStats, StatsEntry

from loadtests.counters import Counters
from loadtests.gates import GateResult


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def entry_summary(entry: StatsEntry) -> dict[str, Any]:
    has = entry.num_requests > 0
    return {
        "method": entry.method or "",
        "name": entry.name,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "failure_ratio": round(entry.fail_ratio, 6),
        "rps": round(entry.total_rps, 3),
        "p50_ms": _ms(entry.get_response_time_percentile(0.5)) if has else None,
        "p95_ms": _ms(entry.get_response_time_percentile(0.95)) if has else None,
        "p99_ms": _ms(entry.get_response_time_percentile(0.99)) if has else None,
        "avg_ms": _ms(entry.avg_response_time) if has else None,
        "max_ms": _ms(entry.max_response_time) if has else None,
    }


def build_summary(stats: RequestStats, *, seed: int, host: str | None,
                  shape: dict[str, Any] | None, gate_results: list[GateResult],
                  counters: Counters, exit_code: int | None,
                  users: int | None = None,
                  workers: list[dict[str, Any]] | None = None,
                  pacing: dict[str, Any] | None = None) -> dict[str, Any]:
    routes = sorted(stats.entries.values(), key=lambda e: (e.name, e.method or ""))
    last = stats.last_request_timestamp or stats.start_time
    return {
        "seed": seed,
        "host": host,
        "shape": shape,
        "users": users,
        "started_at": stats.start_time,
        "duration_s": round(max(last - stats.start_time, 0.0), 3),
        "written_at": time.time(),
        "routes": [entry_summary(entry) for entry in routes],
        "total": entry_summary(stats.total),
        "gates": {"passed": all(r.passed for r in gate_results),
                  "results": [r.to_dict() for r in gate_results]},
        "conflicts": counters.conflicts(),
        "counters": counters.snapshot(),
        "errors": [{"method": e.method, "name": e.name, "error": str(e.error),
                    "occurrences": e.occurrences}
                   for e in sorted(stats.errors.values(), key=lambda e: -e.occurrences)],
        "exit_code": exit_code,
        "workers": workers,
        "pacing": pacing,
    }


def write_summary(path: Path, summary: dict[str, Any]) -> Path:
    """Write atomically (temp file + rename), creating the directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(summary, fh, indent=2, sort_keys=False, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
