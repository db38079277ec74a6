"""The game day's time budgets (issue 7), measured by running it the way a user does:

- from the command to the first request served (goal < 20 s);
- the whole default game day (< 6 min) and `--quick` (< 2 min);
- stream-jam detection (< 15 s after the fault starts);
- the payments breaker open after the payments replicas die (< 2 s);
- the breaker closed within its reset timeout + 2 s after the replicas return;

all of them under the game day's paced Locust load (issue 11: `--rate`, default 60 req/s with
1.5 checkouts/s), whose requested and achieved numbers (summary.json's `load_under`, defined in
chaos.numbers) are printed beside them, with the machine's load average before each run.

    python bench/gameday_budgets.py [--runs-quick 1] [--runs-full 1] [--jam-runs 0] [--out DIR]
                                    [--rate REQ_PER_S]

Runs `gameday run --quick` and `gameday run` as subprocesses (random ports, private state
dirs), reads each report's summary.json and prints every budget with its goal and what each
run observed, plus the wall-clock time around the command. `--jam-runs N` adds N runs of
`gameday run --experiments inventory-lambda-errors` for the spread of the jam detection time.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def run(label: str, out: Path, *args: str) -> dict[str, Any]:
    report = out / label
    argv = [sys.executable, "-m", "gameday", "run", "--report-dir", str(report), *args]
    load_avg = os.getloadavg()
    print(f"== {label}: {' '.join(argv[2:])} (load average {load_avg[0]:.1f}, "
          f"{load_avg[1]:.1f}, {load_avg[2]:.1f})", flush=True)
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    try:
        summary = json.loads((report / "summary.json").read_text())
    except FileNotFoundError:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit(f"{label}: no summary.json (exit {proc.returncode})") from None
    print(f"   exit {proc.returncode}, {summary['outcome']}, wall clock {wall:.1f} s, "
          f"report {report / 'index.html'}", flush=True)
    for failed in summary["failed"]:
        print(f"   FAILED {failed['name']}: {failed['why']}")
    summary["_wall_s"] = wall
    summary["_label"] = label
    summary["_load_avg"] = load_avg
    return summary


LOAD_ROWS = ("load_rate_requested", "load_rate", "load_checkout_rate_requested",
             "load_checkout_rate", "load_users", "load_requests", "load_failures",
             "load_failure_ratio")


def load_rows(summaries: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """[(title, [value per run])] of the load each run ran under (chaos.numbers writes it)."""
    from chaos.numbers import format_value, title

    return [(title(key), [format_value(key, s.get("load_under", {}).get(key))
                          for s in summaries]) for key in LOAD_ROWS]


def budget_rows(summaries: list[dict[str, Any]]) -> list[tuple[str, Any, list[str]]]:
    """[(title, goal, [observed per run])] for every budget any run measured."""
    order: list[str] = []
    titles: dict[str, tuple[str, Any]] = {}
    seen: dict[str, dict[str, Any]] = {}
    for summary in summaries:
        for b in summary["budgets"]:
            key = b["name"] if not b["name"].startswith("total_s") else \
                f"total_s[{summary['options']['mode']}]"
            if key not in titles:
                order.append(key)
                titles[key] = (b["title"], b["goal_s"])
            seen.setdefault(key, {})[summary["_label"]] = b
    rows = []
    for key in order:
        title, goal = titles[key]
        cells = []
        for summary in summaries:
            b = seen[key].get(summary["_label"])
            if b is None or b["observed_s"] is None:
                cells.append("—")
            else:
                mark = {"within": "", "over": " OVER", "info": ""}.get(b["status"], "")
                cells.append(f"{b['observed_s']:.1f}{mark}")
        rows.append((title, goal, cells))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-quick", type=int, default=1)
    parser.add_argument("--runs-full", type=int, default=1)
    parser.add_argument("--jam-runs", type=int, default=0)
    parser.add_argument("--seed", type=int, default=None, help="same seed for every run")
    parser.add_argument("--rate", type=float, default=None,
                        help="gameday run --rate (default: the game day's own)")
    parser.add_argument("--out", type=Path, default=None, help="keep the reports here")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="gameday-budgets-"))
    seed = ["--seed", str(args.seed)] if args.seed is not None else []
    if args.rate is not None:
        seed += ["--rate", f"{args.rate:g}"]
    summaries = []
    for i in range(args.runs_quick):
        summaries.append(run(f"quick-{i + 1}", out, "--quick", *seed))
    for i in range(args.runs_full):
        summaries.append(run(f"full-{i + 1}", out, *seed))
    jam: list[float] = []
    for i in range(args.jam_runs):
        s = run(f"jam-{i + 1}", out, "--experiments", "inventory-lambda-errors", *seed)
        summaries.append(s)
        jam += [b["observed_s"] for b in s["budgets"]
                if b["name"].startswith("jam_detection_s") and b["observed_s"] is not None]

    print("\nbudget (seconds)".ljust(58) + "goal    " + "  ".join(
        s["_label"].ljust(9) for s in summaries))
    for title, goal, cells in budget_rows(summaries):
        goal_text = f"< {goal:g}" if goal is not None else "—"
        print(f"{title[:56]:<57} {goal_text:<7} " + "  ".join(c.ljust(9) for c in cells))
    print(f"{'wall clock around the command':<57} {'':<7} "
          + "  ".join(f"{s['_wall_s']:.1f}".ljust(9) for s in summaries))
    print(f"{'load average (1 min) before the run':<57} {'':<7} "
          + "  ".join(f"{s['_load_avg'][0]:.1f}".ljust(9) for s in summaries))
    print("\nthe Locust load it ran under".ljust(58) + " " * 8 + "  ".join(
        s["_label"].ljust(9) for s in summaries))
    for title, values in load_rows(summaries):
        print(f"{title[:56]:<57} {'':<7} " + "  ".join(v.ljust(9) for v in values))
    if jam:
        print(f"\nstream-jam detection over {len(jam)} run(s): min {min(jam):.1f} s, median "
              f"{statistics.median(jam):.1f} s, max {max(jam):.1f} s")
    print(f"\nreports in {out}")


if __name__ == "__main__":
    main()
