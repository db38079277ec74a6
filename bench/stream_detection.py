"""How fast the stream monitoring detects each kind of jam, measured the way a user runs it:

- a consumer that errors (`inventory-lambda-errors`: the stream-jam alarm, IteratorAge);
- a throttled consumer (`inventory-throttled`: the throttles or stream-jam alarm);
- a dead consumer (`stream-consumer-down`: the silent-consumer alarm on the heartbeats);
- a stuck correlation ID (`poison-record`: seed 004's detector, the Contributor Insights
  alarm, which names the poison order's correlation ID).

    python bench/stream_detection.py [--runs 2] [--out DIR]

Each run is one `gameday run --experiments <the four>` (a private stack on random loopback
ports, the built-in load, then teardown); the numbers are each experiment's
`time_to_alarm_s[...]` from summary.json: seconds from the fault's start to the first ALARM
caused by data from after it. Prints every run and min / median / max per detection, with the
goal; asserts nothing. The machine is shared and noisy: compare runs made side by side.
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
DETECTIONS = [  # (experiment, alarm(s) in its numbers, what, goal s)
    ("inventory-lambda-errors", ["shop-inventory-stream-jam"], "jam (errors)", 15.0),
    ("inventory-throttled", ["shop-inventory-throttles", "shop-inventory-stream-jam"],
     "jam (throttled)", 15.0),
    ("stream-consumer-down", ["shop-inventory-consumer-silent"], "consumer down", 15.0),
    ("poison-record", ["shop-stream-stuck-correlation-id"], "stuck correlation ID named",
     75.0),
]


def run_once(label: str, out: Path) -> dict[str, Any]:
    report = out / label
    names = ",".join(name for name, *_ in DETECTIONS)
    argv = [sys.executable, "-m", "gameday", "run", "--experiments", names,
            "--report-dir", str(report)]
    print(f"== {label}: gameday run --experiments {names}", flush=True)
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    try:
        summary = json.loads((report / "summary.json").read_text())
    except FileNotFoundError:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit(f"{label}: no summary.json (exit {proc.returncode})") from None
    print(f"   exit {proc.returncode}, {summary['outcome']}, {wall:.0f} s", flush=True)
    for failed in summary["failed"]:
        print(f"   FAILED {failed['name']}: {failed['why']}")
    return summary


def detection(summary: dict[str, Any], experiment: str, alarms: list[str]) -> float | None:
    for exp in summary["experiments"]:
        if exp["name"] != experiment:
            continue
        seen = [exp["numbers"].get(f"time_to_alarm_s[{alarm}]") for alarm in alarms]
        values = [float(v) for v in seen if isinstance(v, int | float)]
        return min(values) if values else None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="stream-detection-"))
    summaries = [run_once(f"run-{i + 1}", out) for i in range(args.runs)]
    print()
    print(f"{'detection':32} {'goal':>6}  " + "  ".join(f"run {i + 1:<3}" for i in
                                                       range(len(summaries)))
          + "   min / median / max")
    for experiment, alarms, what, goal in DETECTIONS:
        values = [detection(s, experiment, alarms) for s in summaries]
        cells = "  ".join(f"{v:7.1f}" if v is not None else "  never" for v in values)
        seen = [v for v in values if v is not None]
        spread = (f"{min(seen):.1f} / {statistics.median(seen):.1f} / {max(seen):.1f}"
                  if seen else "—")
        print(f"{what:32} {goal:6.0f}  {cells}   {spread}")
    print(f"\nreports: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
