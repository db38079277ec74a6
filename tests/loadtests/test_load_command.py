"""`gameday load`: argument checks and the Locust command line it builds."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gameday import load_commands


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gameday")
    load_commands.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["load", *argv])


def test_locustfile_is_the_installed_one() -> None:
    path = load_commands.locustfile_path()
    assert path.name == "locustfile.py" and path.exists()
    assert path.parent.name == "loadtests"


def test_headless_command_line(tmp_path: Path) -> None:
    args = parse("--users", "5", "--spawn-rate", "2", "--run-time", "20s", "--shape", "step",
                 "--seed", "9", "--gate-p99", "/v1/products/{sku}=500", "--gate-p99",
                 "Aggregated=900", "--gate-failure-ratio", "0.01", "--gate-min-rps", "3",
                 "--contention-users", "3", "--state-dir", str(tmp_path),
                 "--", "--think-time", "0.1:0.2")
    argv = load_commands.build_locust_argv(args, "http://127.0.0.1:1", tmp_path / "out")
    joined = " ".join(argv)
    assert argv[1:4] == ["-m", "locust", "-f"]
    for fragment in ("--host http://127.0.0.1:1", "-u 5", "-r 2", "-t 20s", "--shape step",
                     "--seed 9", f"--csv {tmp_path / 'out' / 'locust'}",
                     f"--html {tmp_path / 'out' / 'report.html'}",
                     f"--json-summary {tmp_path / 'out' / 'summary.json'}",
                     "--gate-failure-ratio 0.01", "--gate-min-rps 3",
                     "--contention-users 3", f"--state-dir {tmp_path}", "--headless"):
        assert fragment in joined
    assert argv.count("--gate-p99") == 2
    assert argv[-2:] == ["--think-time", "0.1:0.2"]


def test_web_command_line(tmp_path: Path) -> None:
    argv = load_commands.build_locust_argv(parse("--web", "--web-port", "8111"),
                                           "http://127.0.0.1:1", tmp_path)
    assert "--headless" not in argv
    assert argv[argv.index("--web-host") + 1] == "127.0.0.1"
    assert argv[argv.index("--web-port") + 1] == "8111"
    assert argv[argv.index("-r") + 1] == "10"  # default: all users within a second


@pytest.mark.parametrize("argv, fragment", [
    (["--gate-p99", "/v1/products/{sku}"], "argument --gate-p99"),
    (["--gate-failure-ratio", "2"], "a ratio is between 0 and 1"),
    (["--run-time", "soon"], "argument -t/--run-time"),
    (["--users", "0"], "argument -u/--users"),
    (["--shape", "zigzag"], "argument --shape"),
    (["--workers", "0"], "argument --workers"),
    (["--find-capacity", "--step-duration", "soon"], "argument --step-duration"),
])
def test_bad_arguments(argv: list[str], fragment: str,
                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)
    assert fragment in capsys.readouterr().err


def test_no_stack_no_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("--state-dir", str(tmp_path / "none"), "--out", str(tmp_path / "out"))
    assert args.func(args) == 3  # ExitCode.UNAVAILABLE: no stack
    assert "no running stack" in capsys.readouterr().err


def test_remote_host_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("--host", "http://10.1.2.3", "--out", str(tmp_path / "out"))
    assert args.func(args) == 2
    assert "outside loopback" in capsys.readouterr().err


def test_find_capacity_command_line(tmp_path: Path) -> None:
    args = parse("--find-capacity", "--step-users", "5", "--step-duration", "10s",
                 "--step-settle", "2s", "--gate-p99", "Aggregated=500")
    argv = load_commands.build_locust_argv(args, "http://127.0.0.1:1", tmp_path)
    assert argv[argv.index("--shape") + 1] == "capacity"
    assert argv[argv.index("-u") + 1] == "100"  # the most users: the search's default
    plan = load_commands.capacity_plan(args)
    assert (plan.max_users, plan.step, plan.step_s, plan.settle) == (100, 5, 10.0, 2.0)
    # -t is a safety net past the search's own budget
    budget = int(argv[argv.index("-t") + 1].rstrip("s"))
    assert budget > plan.budget_s()
    for flag, value in (("--step-users", "5"), ("--step-duration", "10s"),
                        ("--step-settle", "2s")):
        assert argv[argv.index(flag) + 1] == value
    assert load_commands.users_of(parse()) == 10


def test_workers_command_line(tmp_path: Path) -> None:
    argv = load_commands.build_locust_argv(parse("--workers", "2"), "http://127.0.0.1:1",
                                           tmp_path)
    assert argv[argv.index("--processes") + 1] == "2"
    assert argv[argv.index("--master-bind-host") + 1] == "127.0.0.1"
    port = argv[argv.index("--master-bind-port") + 1]
    assert argv[argv.index("--master-port") + 1] == port
    assert "--processes" not in load_commands.build_locust_argv(parse(), "http://x", tmp_path)


@pytest.mark.parametrize("argv, fragment", [
    (["--step-duration", "10s", "--step-settle", "10s"], "shorter than the step"),
    (["-u", "5", "--step-users", "6"], "above the most users"),
])
def test_impossible_capacity_search(argv: list[str], fragment: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("--find-capacity", *argv, "--out", str(tmp_path / "out"))
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "--find-capacity" in err and fragment in err
    assert not (tmp_path / "out").exists()  # nothing started, nothing written
