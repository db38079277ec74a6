"""Benchmark: requests/s of our locustfile next to a plain one-route Locust file, same target.

Run on demand against a running stack (`gameday up`), e.g.:

    python bench/locust_overhead.py --state-dir .gameday --users 4 --run-time 10s

Three headless Locust runs, one after the other, same users and duration, no think time:
  plain    a bare FastHttpUser hitting one route (GET /v1/products/SKU-00001)
  browser  our BrowserUser (seeded data, classification, counters), read-only routes
  mix      our full locustfile (browsers, shoppers, reviewers, cart contention)
and a table: requests, failures, req/s, p50/p95 (ms) and the load generator's CPU time per
request, which is the harness's own overhead (the shop's latency is in the other columns;
the CPU time includes Locust's start-up, about a second, so use runs of 10 s or more).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loadtests.hosts import HostError, check_host, host_from_state  # noqa: E402

PLAIN_LOCUSTFILE = '''
from locust import FastHttpUser, task


class PlainUser(FastHttpUser):
    @task
    def product(self):
        self.client.get("{route}", name="{route}")
'''


@dataclass
class Result:
    variant: str
    requests: int
    failures: int
    duration_s: float
    p50_ms: float
    p95_ms: float
    cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_s / self.requests if self.requests else 0.0


def percentile(times: dict[int, int], fraction: float) -> float:
    total = sum(times.values())
    if not total:
        return 0.0
    seen = 0
    for ms in sorted(times):
        seen += times[ms]
        if seen >= fraction * total:
            return float(ms)
    return float(max(times))


def read_stats(prefix: Path) -> tuple[int, int, float, dict[int, int]]:
    entries = json.loads(prefix.with_name(prefix.name + ".json").read_text())
    requests = sum(e["num_requests"] for e in entries)
    failures = sum(e["num_failures"] for e in entries)
    start = min((e["start_time"] for e in entries), default=0.0)
    last = max((e["last_request_timestamp"] or 0 for e in entries), default=0.0)
    times: dict[int, int] = {}
    for entry in entries:
        for ms, count in entry["response_times"].items():
            times[int(float(ms))] = times.get(int(float(ms)), 0) + count
    return requests, failures, max(last - start, 0.0), times


def run(variant: str, locustfile: Path, host: str, users: int, run_time: str,
        workdir: Path, extra: list[str]) -> Result:
    prefix = workdir / variant
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
            "--host", host, "-u", str(users), "-r", str(users), "-t", run_time,
            "--only-summary", "--json-file", str(prefix), *extra]
    env = {k: v for k, v in os.environ.items() if k != "LOCUST_SKIP_MONKEY_PATCH"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not prefix.with_name(prefix.name + ".json").exists():
        raise SystemExit(f"{variant}: locust wrote no stats (exit {proc.returncode}):\n"
                         f"{proc.stderr[-3000:]}")
    requests, failures, duration, times = read_stats(prefix)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Result(variant, requests, failures, duration, percentile(times, 0.5),
                  percentile(times, 0.95), cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--host", default=None, help="default: the state file's storefront")
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--run-time", default="10s")
    parser.add_argument("--route", default="/v1/products/SKU-00001",
                        help="the plain file's one route")
    args = parser.parse_args(argv)
    try:
        host = check_host(args.host.rstrip("/") if args.host else host_from_state(args.state_dir))
    except HostError as exc:
        print(f"locust_overhead: {exc}", file=sys.stderr)
        return 2
    ours = REPO / "loadtests" / "locustfile.py"
    with tempfile.TemporaryDirectory(prefix="locust-overhead-") as tmp:
        workdir = Path(tmp)
        plain = workdir / "plain_locustfile.py"
        plain.write_text(PLAIN_LOCUSTFILE.replace("{route}", args.route))
        common = ["--think-time", "0:0", "--catalog-size", "0"]
        if args.state_dir:
            common += ["--state-dir", str(args.state_dir)]
        print(f"target {host}, {args.users} users, {args.run_time} per variant", flush=True)
        results = []
        for variant, locustfile, extra in (
                ("plain", plain, []),
                ("browser", ours, [*common, "BrowserUser"]),
                ("mix", ours, [*common, "--contention-users", "0"])):
            started = time.monotonic()
            results.append(run(variant, locustfile, host, args.users, args.run_time,
                               workdir, extra))
            print(f"  {variant}: done in {time.monotonic() - started:.1f} s", flush=True)
    print()
    print(f"{'variant':<9}{'requests':>10}{'failures':>10}{'req/s':>10}{'p50 ms':>9}"
          f"{'p95 ms':>9}{'CPU ms/req':>12}")
    for r in results:
        print(f"{r.variant:<9}{r.requests:>10}{r.failures:>10}{r.rps:>10.1f}{r.p50_ms:>9.0f}"
              f"{r.p95_ms:>9.0f}{r.cpu_ms_per_request:>12.2f}")
    base = results[0]
    for r in results[1:]:
        if base.rps and base.cpu_ms_per_request:
            print(f"{r.variant}: {r.rps / base.rps:.0%} of plain req/s, "
                  f"{r.cpu_ms_per_request / base.cpu_ms_per_request:.1f}x its CPU per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
