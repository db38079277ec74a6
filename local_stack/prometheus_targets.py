"""Write the file-discovery target lists of dashboards/prometheus/prometheus.yml from a local
stack's state file, so a Prometheus started with that configuration scrapes the running stack:
one `<job>.json` per job (`[{"targets": ["127.0.0.1:PORT"], "labels": {...}}]`).

    python -m local_stack.prometheus_targets --state-dir .gameday \\
        [--locust 127.0.0.1:9646] [--saga 127.0.0.1:9110] [--out dashboards/prometheus/targets]

Jobs: storefront, payments, reviews (one target per replica, label `replica`), stream_runtime,
alarm_evaluator and saga (the saga exporter `gameday up` starts) from the state file's URLs,
and locust when its address is given (the Locust exporter is not part of `gameday up`).
Prometheus re-reads the files every 5 s; a job without a file has no targets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from local_stack.state import read_state, write_json_atomic

TARGETS_DIR = Path(__file__).resolve().parent.parent / "dashboards" / "prometheus" / "targets"
SERVICE_JOBS = ("storefront", "payments", "reviews")
URL_JOBS = {"stream_runtime": "stream_runtime_metrics",
            "alarm_evaluator": "alarm_evaluator_metrics", "saga": "saga_metrics"}


def _address(url: str) -> str:
    parsed = urlparse(url)
    if not parsed.hostname or not parsed.port:
        raise ValueError(f"no host:port in {url!r}")
    return f"{parsed.hostname}:{parsed.port}"


def targets_from_state(state: dict[str, Any],
                       extra: dict[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Target groups per job for a state file's stack; `extra` adds jobs by address."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    services = state.get("services") or {}
    for job in SERVICE_JOBS:
        replicas = (services.get(job) or {}).get("replicas") or []
        jobs[job] = [{"targets": [f"127.0.0.1:{replica['port']}"],
                      "labels": {"replica": str(replica["name"]), "env": "local"}}
                     for replica in replicas if replica.get("port")]
    urls = state.get("urls") or {}
    for job, key in URL_JOBS.items():
        if urls.get(key):
            jobs[job] = [{"targets": [_address(urls[key])], "labels": {"env": "local"}}]
    for job, address in (extra or {}).items():
        jobs[job] = [{"targets": [address], "labels": {"env": "local"}}]
    return jobs


def write_targets(jobs: dict[str, list[dict[str, Any]]], out_dir: Path = TARGETS_DIR) -> list[Path]:
    """Write `<out_dir>/<job>.json` for every job (atomically); returns the paths."""
    paths = []
    for job, groups in sorted(jobs.items()):
        path = out_dir / f"{job}.json"
        write_json_atomic(path, groups)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.prometheus_targets",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="the stack's state dir (default: $GAMEDAY_STATE_DIR or ./.gameday)")
    parser.add_argument("--out", type=Path, default=TARGETS_DIR)
    parser.add_argument("--locust", metavar="HOST:PORT",
                        help="the Locust exporter (--prometheus-port)")
    parser.add_argument("--saga", metavar="HOST:PORT", help="local_stack.saga_exporter")
    args = parser.parse_args(argv)
    extra = {job: address for job, address in (("locust", args.locust), ("saga", args.saga))
             if address}
    for path in write_targets(targets_from_state(read_state(args.state_dir), extra), args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
