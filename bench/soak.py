"""Soak: steady load on the local stack for N minutes, recorded minute by minute, and its drift.

    python bench/soak.py --minutes 30 [--state-dir .gameday] [--users 20 | --capacity
        reports/load-.../capacity.json [--fraction 0.6]] [--bucket 60s] [--out DIR]
        [-- --think-time 0.05:0.2]

Uses the running stack in --state-dir, or starts a private one (`gameday up --port-base 0`)
and stops it at the end. Runs `gameday load --shape soak` (loadtests.soak: throughput, p95/p99
and failures per --bucket) and, beside it, samples every few seconds the RSS of the AWS
emulator and of every other process of the stack (pids from the state file, re-read at each
sample: a restarted replica has a new pid; psutil) and the saga's lag from the saga exporter's
/metrics (orders in flight, age of the oldest order in flight). Then it waits for every order to
settle (nothing in flight), runs `gameday audit`, and prints:

- one row per bucket: users, req/s, p99, emulator RSS, the other processes' RSS, orders in
  flight and the oldest in-flight order's age (the saga lag);
- the drift between the first and the last five minutes (throughput and p99 within 15 %;
  a third of the run each on a run shorter than fifteen minutes) and the emulator's RSS growth
  over the last twenty minutes (≤ 10 %; the second half of a shorter run): the targets of
  loadtests.soak, defined there;
- whether every order settled and the audit is clean.

With `--capacity`, the load is paced (`--rate`, loadtests.pacing) at `--fraction` (default
0.6) of the knee's requests per second of a `gameday load --find-capacity` run, carried by the
knee's users. (A fraction of the knee's *users* is not a fraction of its load: with think
time, 60 % of 160 users still asked for ~95 % of the knee's req/s.) Writes `soak.json`
(everything above) and the load's own reports (`load/`) into --out. Prints numbers; exits 1
only when an order did not settle or the audit found a problem, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import requests
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gameday.run.stack_process import StackFailed, StackProcess  # noqa: E402
from loadtests.locust_free import parse_timespan  # noqa: E402
from loadtests.soak import (  # noqa: E402
    DRIFT_LIMIT,
    RSS_GROWTH_LIMIT,
    RSS_WINDOW_S,
    growth,
)
from local_stack.state import StackNotRunning, read_state  # noqa: E402

EMULATOR_GROUP = "aws"  # the AWS emulator's process group(s): "aws", or "aws-<family>"
LOAD_MARGIN_S = 60  # -t of the load: the soak's own duration, and this
MB = 1024 * 1024


def is_emulator(group: str) -> bool:
    return group == EMULATOR_GROUP or group.startswith(EMULATOR_GROUP + "-")


def processes(state: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """{replica name: (group, pid)} of every live process in the state file."""
    out: dict[str, tuple[str, int]] = {}
    for group, spec in (state.get("services") or {}).items():
        for replica in spec.get("replicas", []):
            if replica.get("pid"):
                out[str(replica["name"])] = (group, int(replica["pid"]))
    return out


def saga(url: str) -> dict[str, float]:
    """orders in flight, the oldest in-flight order's age, the exporter's last scan (when,
    and how long it took)."""
    text = requests.get(url, timeout=5).text
    wanted = {"shop_saga_orders_in_flight": "in_flight",
              "shop_saga_oldest_in_flight_age_seconds": "oldest_age_s",
              "shop_saga_exporter_last_success_timestamp_seconds": "scanned_at",
              "shop_saga_exporter_scan_duration_seconds": "scan_s"}
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                found[wanted[sample.name]] = float(sample.value)
    return found


class Sampler(threading.Thread):
    """Every `every_s`: RSS per process and the saga's lag, with the time."""

    def __init__(self, state_dir: Path, every_s: float) -> None:
        super().__init__(daemon=True, name="soak-sampler")
        self.state_dir, self.every_s = state_dir, every_s
        self.samples: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    def sample(self) -> dict[str, Any]:
        state = read_state(self.state_dir)
        rss: dict[str, float] = {}
        groups: dict[str, float] = {}
        for name, (group, pid) in processes(state).items():
            try:
                value = psutil.Process(pid).memory_info().rss / MB
            except psutil.Error:
                continue  # a replica being replaced
            rss[name] = round(value, 1)
            groups[group] = round(groups.get(group, 0.0) + value, 1)
        row: dict[str, Any] = {"t": time.time(), "rss_mb": rss, "group_rss_mb": groups,
                               "emulator_mb": round(sum(v for g, v in groups.items()
                                                        if is_emulator(g)), 1)}
        try:
            row.update(saga(state["urls"]["saga_metrics"]))
        except (requests.RequestException, KeyError, ValueError) as exc:
            self.errors.append(f"saga metrics: {exc}")
        return row

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.samples.append(self.sample())
            except (StackNotRunning, OSError, ValueError) as exc:
                self.errors.append(str(exc))
            self._halt.wait(self.every_s)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)


def per_bucket(buckets: list[dict[str, Any]],
               samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each load bucket with the samples taken in it: RSS at its end, the saga's worst lag."""
    rows = []
    for bucket in buckets:
        inside = [s for s in samples if bucket["started_at"] <= s["t"] <= bucket["ended_at"]]
        before = [s for s in samples if s["t"] <= bucket["ended_at"]]
        last = (before or inside or [{}])[-1]
        rows.append({
            **{k: bucket[k] for k in ("index", "start_s", "end_s", "users", "requests",
                                      "failures", "rps", "p95_ms", "p99_ms")},
            "emulator_mb": last.get("emulator_mb"),
            "group_rss_mb": last.get("group_rss_mb", {}),
            "rss_mb": last.get("rss_mb", {}),
            "in_flight_max": max((s.get("in_flight", 0) for s in inside), default=None),
            "saga_lag_s": max((s.get("oldest_age_s", 0) for s in inside), default=None),
        })
    return rows


def wait_settled(state_dir: Path, timeout_s: float) -> dict[str, Any]:
    """Wait until the saga exporter, in a scan that started after now, finds nothing in
    flight; {settled, after_s, in_flight}."""
    started = time.time()
    url = read_state(state_dir)["urls"]["saga_metrics"]
    last: dict[str, float] = {}
    while time.time() - started < timeout_s:
        try:
            last = saga(url)
        except requests.RequestException:
            last = {}
        if last.get("scanned_at", 0) > started and last.get("in_flight", 1) == 0:
            return {"settled": True, "after_s": round(time.time() - started, 1),
                    "in_flight": 0}
        time.sleep(1)
    return {"settled": False, "after_s": round(time.time() - started, 1),
            "in_flight": last.get("in_flight")}


def audit(state_dir: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "gameday", "audit", "--state-dir",
                           str(state_dir), "--json"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"ok": False, "exit_code": proc.returncode, "error": proc.stderr[-2000:]}
    return {"ok": bool(report.get("ok")) and proc.returncode == 0,
            "exit_code": proc.returncode, "counts": report.get("counts", {}),
            "problems": report.get("problems", [])[:20]}


def run_load(state_dir: Path, out: Path, users: int, duration_s: float, bucket: str,
             extra: list[str]) -> int:
    """`gameday load --shape soak` in its own session; killed with its Locust if it overruns."""
    argv = [sys.executable, "-m", "gameday", "load", "--state-dir", str(state_dir),
            "--shape", "soak", "-u", str(users), "-r", str(users),
            "-t", f"{math.ceil(duration_s) + LOAD_MARGIN_S}s", "--out", str(out),
            "--", "--shape-duration", f"{math.ceil(duration_s)}s", "--soak-bucket", bucket,
            *extra]
    print(f"== load: {' '.join(argv[2:])}", flush=True)
    log = (out.parent / "load.log").open("wb")
    proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        return proc.wait(timeout=duration_s + 2 * LOAD_MARGIN_S)
    except BaseException:
        os.killpg(proc.pid, signal.SIGINT)  # Locust writes its reports
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        raise
    finally:
        log.close()


def load_from(args: argparse.Namespace) -> tuple[int, float | None]:
    """(users, paced req/s or None): --users unpaced, or the knee's users paced at
    --fraction of the knee's req/s."""
    if args.capacity is None:
        return args.users, None
    knee = json.loads(args.capacity.read_text()).get("knee")
    if not knee:
        raise SystemExit(f"{args.capacity}: the capacity search found no knee")
    return max(1, int(knee["users"])), round(float(knee["rps"]) * args.fraction, 1)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}%"


def report(result: dict[str, Any]) -> None:
    print(f"\n{'t (s)':>9} {'users':>5} {'req/s':>7} {'p99 ms':>7} {'emu MB':>7} "
          f"{'other MB':>8} {'in flight':>9} {'lag s':>6}")
    for row in result["buckets"]:
        other = sum(v for g, v in row["group_rss_mb"].items() if not is_emulator(g))
        lag = "-" if row["saga_lag_s"] is None else f"{row['saga_lag_s']:.1f}"
        flight = "-" if row["in_flight_max"] is None else f"{row['in_flight_max']:.0f}"
        print(f"{row['start_s']:>4.0f}-{row['end_s']:<4.0f} {row['users']:>5} "
              f"{row['rps']:>7.1f} {row['p99_ms'] or 0:>7.0f} {row['emulator_mb'] or 0:>7.0f} "
              f"{other:>8.0f} {flight:>9} {lag:>6}")
    drift = result["drift"]
    if drift:
        print(f"\ndrift, first vs last {drift['window_s']:.0f} s: throughput "
              f"{drift['first']['rps']:.1f} -> {drift['last']['rps']:.1f} req/s "
              f"({pct(drift['throughput_change'])}), p99 {drift['first']['p99_ms']} -> "
              f"{drift['last']['p99_ms']} ms ({pct(drift['p99_change'])}): "
              f"{'within' if drift['within'] else 'NOT within'} {100 * DRIFT_LIMIT:.0f} %")
    else:
        print("\ndrift: too few buckets to compare")
    rss = result["emulator_rss_growth"]
    if rss:
        print(f"emulator RSS over the last {rss['window_s']:.0f} s: {rss['from']:.0f} -> "
              f"{rss['to']:.0f} MB ({pct(rss['growth'])}): "
              f"{'within' if rss['within'] else 'NOT within'} {100 * RSS_GROWTH_LIMIT:.0f} %")
    settle = result["settle"]
    print(f"orders: {'every order settled' if settle['settled'] else 'NOT settled'} "
          f"{settle['after_s']:.0f} s after the load "
          f"(in flight {settle['in_flight']}); audit "
          f"{'clean' if result['audit']['ok'] else 'NOT clean'}: "
          f"{result['audit'].get('counts', {}).get('orders_by_status', {})}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, required=True, help="soak duration")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="use this running stack (default: start a private one)")
    parser.add_argument("--users", type=int, default=20, help="steady users (default 20)")
    parser.add_argument("--capacity", type=Path, default=None,
                        help="capacity.json of a --find-capacity run: the knee's users paced at "
                             "--fraction x its req/s")
    parser.add_argument("--fraction", type=float, default=0.6)
    parser.add_argument("--bucket", default="60s", help="bucket span (default 60s)")
    parser.add_argument("--sample-every", type=float, default=None,
                        help="seconds between RSS/saga samples (default: a fifth of a bucket, "
                             "at most 10)")
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("locust_args", nargs=argparse.REMAINDER,
                        help="after `--`: passed to Locust (e.g. --think-time 0.05:0.2)")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be > 0")
    bucket_s = parse_timespan(args.bucket)
    if bucket_s <= 0:
        parser.error("--bucket must be > 0")
    duration_s = args.minutes * 60
    extra = list(args.locust_args or [])
    if extra[:1] == ["--"]:
        extra = extra[1:]
    users, rate = load_from(args)
    if rate is not None:
        extra = ["--rate", str(rate), *extra]
    out = (args.out or REPO / "reports" / time.strftime("soak-%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)

    stack: StackProcess | None = None
    state_dir = args.state_dir
    try:
        if state_dir is None:
            stack = StackProcess(out / "stack", out / "stack.log", seed=42, products=40)
            print("== starting a private stack", flush=True)
            stack.start()
            state_dir = stack.state_dir
        state_dir = state_dir.resolve()
        pids = sorted(pid for _, pid in processes(read_state(state_dir)).values())
        sampler = Sampler(state_dir, args.sample_every or min(10.0, bucket_s / 5))
        sampler.start()
        try:
            code = run_load(state_dir, out / "load", users, duration_s, args.bucket, extra)
        finally:
            sampler.stop()
        summary = json.loads((out / "load" / "summary.json").read_text())
        shape = summary.get("shape") or {}
        settle = wait_settled(state_dir, args.settle_timeout)
        result = {
            "minutes": args.minutes, "users": users, "paced_rps": rate, "bucket_s": bucket_s,
            "stack": {"started_here": stack is not None, "state_dir": str(state_dir),
                      "pids": pids},
            "load_exit_code": code, "total": summary.get("total"),
            "buckets": per_bucket(shape.get("buckets", []), sampler.samples),
            "drift": shape.get("drift"),
            "emulator_rss_growth": growth([(s["t"], s["emulator_mb"])
                                           for s in sampler.samples], RSS_WINDOW_S),
            "settle": settle, "audit": audit(state_dir),
            "sampler_errors": sampler.errors[:20], "samples": sampler.samples,
        }
    except (StackFailed, StackNotRunning, FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2
    finally:
        if stack is not None:
            killed = stack.stop()
            if killed:
                print(f"soak: had to kill {', '.join(killed)}", file=sys.stderr)
    (out / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    report(result)
    print(f"\nsoak.json and the load's reports in {out}")
    return 0 if result["settle"]["settled"] and result["audit"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
