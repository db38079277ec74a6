"""One exit-code table for every command (local_stack.exit_codes), the one README shows, and the
codes the commands really return, run as users run them (subprocesses, no stack)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack.exit_codes import MEANING, ExitCode
from local_stack.ports import free_port
from tests.conftest import REPO

EXPERIMENT = str(REPO / "chaos" / "experiments" / "payments-breaker.yaml")


def test_readme_shows_the_table_the_code_defines() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (.+) \|$", section, re.MULTILINE)
    assert {int(code): (name, text) for code, name, text in rows} == {
        int(code): (code.name, MEANING[code]) for code in ExitCode}


def _run_all(commands: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    """Run the commands side by side (each is a Python start-up: ~1 s of CPU)."""
    procs = [subprocess.Popen([sys.executable, "-m", *argv], cwd=REPO, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for argv in commands]
    done = []
    for argv, proc in zip(commands, procs, strict=True):
        try:
            out, err = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            pytest.fail(f"{' '.join(argv)} did not end")
        done.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return done


def test_no_stack_means_the_same_code_everywhere(tmp_path: Path) -> None:
    sd = ["--state-dir", str(tmp_path / "none")]
    expected = [  # (argv, code, a fragment of what it says)
        (["gameday", "status", *sd], ExitCode.UNAVAILABLE, "no running stack"),
        (["gameday", "audit", *sd], ExitCode.UNAVAILABLE, "no running stack"),
        (["gameday", "traces", "ord-nope", *sd], ExitCode.UNAVAILABLE, "no running stack"),
        (["gameday", "load", "-t", "5s", "--out", str(tmp_path / "out"), *sd],
         ExitCode.UNAVAILABLE, "no running stack"),
        (["chaos", "inject", "service-error", "--service", "payments", *sd],
         ExitCode.UNAVAILABLE, "no running stack"),
        (["chaos", "status", *sd], ExitCode.UNAVAILABLE, "no running stack"),
        (["chaos", "run", EXPERIMENT, *sd], ExitCode.UNAVAILABLE, "no running stack"),
        # idempotent: nothing to stop or undo is not an error
        (["gameday", "down", *sd], ExitCode.OK, "nothing to stop"),
        (["chaos", "cleanup", *sd], ExitCode.OK, "nothing left to clean up"),
        # bad input stays bad input, stack or not
        (["chaos", "inject", "kill-replica", "--service", "nosuch", *sd], ExitCode.USAGE,
         "nosuch"),
    ]
    env = {k: v for k, v in os.environ.items() if k != "GAMEDAY_STATE_DIR"}
    results = _run_all([argv for argv, _, _ in expected], env)
    wrong = [f"{' '.join(r.args[:3])}: exit {r.returncode} (want {int(code)}); "
             f"{(r.stderr or r.stdout).strip()[-200:]}"
             for r, (_, code, fragment) in zip(results, expected, strict=True)
             if r.returncode != code or fragment not in r.stderr + r.stdout]
    assert not wrong, "\n".join(wrong)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_load_fails_fast_on_a_target_that_never_answers(tmp_path: Path) -> None:
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "gameday", "load", "--host", host,
                           "-u", "1", "-t", "10s", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == ExitCode.UNAVAILABLE, done.stdout + done.stderr
    assert f"{host} does not answer" in done.stderr and "ConnectionRefusedError" in done.stderr
    assert not out.exists()  # Locust never started: no empty report
