"""The game day's time budgets (issue 7), measured by running it the way a user does:

- from the command to the first request served (goal < 20 s);
- the whole default game day (< 6 min) and `--quick` (< 2 min);
- stream-jam detection (< 15 s after the fault starts);
- the payments breaker open after the payments replicas die (< 2 s);
- the breaker closed within its reset timeout + 2 s after the replicas return.

    python bench/gameday_budgets.py [--runs-quick 1] [--runs-full 1] [--jam-runs 0] [--out DIR]

Runs `gameday run --quick` and `gameday run` as subprocesses (random ports, private state
dirs), reads each report's summary.json and prints every budget with its goal and what each
run observed, plus the wall-clock time around the command. `--jam-runs N` adds N runs of
`gameday run --experiments inventory-lambda-errors` for the spread of the jam detection time.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
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
    print(f"== {label}: {' '.join(argv[2:])}", flush=True)
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
    return summary


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
    parser.add_argument("--out", type=Path, default=None, help="keep the reports here")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="gameday-budgets-"))
    seed = ["--seed", str(args.seed)] if args.seed is not None else []
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
    if jam:
        print(f"\nstream-jam detection over {len(jam)} run(s): min {min(jam):.1f} s, median "
              f"{statistics.median(jam):.1f} s, max {max(jam):.1f} s")
    print(f"\nreports in {out}")


if __name__ == "__main__":
    main()
