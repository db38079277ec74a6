"""Fixed background CPU of idle local stacks, side by side: % of one core per process.

Start two (or more) stacks first, e.g. this tree's and a baseline tree's (``git archive main``
unpacked somewhere, run with ``PYTHONPATH`` pointing at it), each with ``--port-base 0`` and its
own ``--state-dir``; leave them idle. Then:

    python bench/idle_cpu.py --seconds 30 main=/tmp/state-main this=/tmp/state-this

Every process under each stack's supervisor is sampled over the same interval (psutil
``cpu_times`` user + system deltas), named by its ``-m`` module (and ``--service`` or the like
when there are replicas), and the table prints the per-process share of a core, each stack's
total and the ratios. ``uptime`` is printed beside it: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import psutil


def _name(proc: psutil.Process) -> str:
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return "?"
    name = Path(argv[0]).name if argv else "?"
    if "-m" in argv and argv.index("-m") + 1 < len(argv):
        name = argv[argv.index("-m") + 1]
    for flag in ("--service", "--name", "--functions"):
        if flag in argv and argv.index(flag) + 1 < len(argv):
            name += f" {argv[argv.index(flag) + 1]}"
            break
    return name


def _processes(state_dir: Path) -> list[psutil.Process]:
    state = json.loads((state_dir / "state.json").read_text())
    root = psutil.Process(int(state["supervisor_pid"]))
    return [root, *root.children(recursive=True)]


def _cpu(proc: psutil.Process) -> float | None:
    try:
        t = proc.cpu_times()
    except psutil.Error:
        return None
    return t.user + t.system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="+", help="label=STATE_DIR")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    stacks = dict(item.split("=", 1) for item in args.stacks)
    procs = {label: _processes(Path(d)) for label, d in stacks.items()}
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    before = {(label, p.pid): _cpu(p) for label, ps in procs.items() for p in ps}
    t0 = time.monotonic()
    time.sleep(args.seconds)
    elapsed = time.monotonic() - t0
    usage: dict[str, dict[str, float]] = {label: defaultdict(float) for label in stacks}
    for label, ps in procs.items():
        for p in ps:
            start, end = before[(label, p.pid)], _cpu(p)
            if start is not None and end is not None:
                usage[label][_name(p)] += 100.0 * (end - start) / elapsed
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    labels = list(stacks)
    names = sorted({n for u in usage.values() for n in u},
                   key=lambda n: -max(u.get(n, 0.0) for u in usage.values()))
    header = f"process (% of one core over {elapsed:.0f} s)"
    print(f"{header:<48}"
          + "".join(f"{label:>12}" for label in labels))
    for name in names:
        print(f"{name[:48]:<48}" + "".join(f"{usage[lb].get(name, 0.0):>12.1f}" for lb in labels))
    totals = {lb: sum(usage[lb].values()) for lb in labels}
    print(f"{'total':<48}" + "".join(f"{totals[lb]:>12.1f}" for lb in labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
