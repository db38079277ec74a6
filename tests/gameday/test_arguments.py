"""`gameday run` argument validation: everything here fails or lists before any process
starts (exit 2 with a clear message), so these tests are fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gameday.cli import main
from gameday.run.selection import QUICK, UnknownExperiment, available, parse_names, select

REPO = Path(__file__).resolve().parents[2]


def test_unknown_experiment_is_named_with_the_valid_ones(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    code = main(["run", "--experiments", "payments-breaker,nope", "--report-dir", "/nonexistent"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown experiment 'nope'" in err
    for name in available():
        assert name in err


def test_empty_experiment_list_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--experiments", " , "]) == 2
    assert "at least one name" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--users", "0"], ["--seed", "-1"], ["--seed", "x"],
                                  ["--web-port", "abc"]])
def test_bad_values_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", *argv])
    assert exc.value.code == 2


@pytest.mark.parametrize(("value", "named"), [
    ("0", "'0': need a number of requests per second > 0"),
    ("-5", "'-5': need a number of requests per second > 0"),
    ("fast", "'fast' is not a number of requests per second"),
    ("nan", "'nan': need"), ("inf", "'inf': need"), ("1e9", "<= 10000"), ("", "'' is not")])
def test_a_bad_rate_is_named_and_exits_2(value: str, named: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--quick", "--rate", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--rate" in err and named in err


def test_a_rate_the_users_cannot_carry_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    # one user cannot be both the buyer and everybody else: refused before anything starts
    assert main(["run", "--quick", "--rate", "60", "--users", "1",
                 "--report-dir", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "--rate 60 with --users 1" in err and "at least 2" in err


def test_an_existing_report_is_not_overwritten(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "summary.json").write_text("{}")
    assert main(["run", "--quick", "--report-dir", str(tmp_path)]) == 2
    assert "already holds a game-day report" in capsys.readouterr().err


def test_a_state_dir_in_use_is_refused(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "state.json").write_text('{"urls": {}, "supervisor_pid": 1}')
    assert main(["run", "--quick", "--state-dir", str(tmp_path),
                 "--report-dir", str(tmp_path / "r")]) == 2
    assert "a stack already uses" in capsys.readouterr().err


def test_list_names_every_experiment_and_marks_the_quick_ones(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--list"]) == 0
    out = capsys.readouterr().out
    for name in available():
        assert name in out
    assert out.count("[--quick]") == len(QUICK)


def test_selection() -> None:
    assert parse_names(["a,b", "b", "c.yaml", " "]) == ["a", "b", "c"]
    assert [n for n, _ in select(None, quick=True)] == list(QUICK)
    full = [n for n, _ in select(None, quick=False)]
    assert sorted(full) == sorted(available()) and full[-1] == "poison-record"
    chosen = select(["storefront-replica-killed", "payments-breaker"], quick=True)
    assert [n for n, _ in chosen] == ["storefront-replica-killed", "payments-breaker"]
    with pytest.raises(UnknownExperiment, match="valid names: "):
        select(["x"], quick=False)


def test_the_game_day_modules_never_import_locust() -> None:
    """Locust's gevent monkey-patching would break the supervisor's threads."""
    code = ("import sys, gameday.run_command, gameday.run.orchestrator, gameday.run.report_files;"
            " gameday.run.orchestrator.GameDay; "
            "print(sorted(m for m in ('gevent', 'locust') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_the_first_request_budget_counts_from_this_command_not_the_shell() -> None:
    """`bash -c "pip install … && gameday run"` execs its last command, so the process was
    created when the shell was: the budget must not count what the shell ran before (a fresh
    clone's install once showed "first request 50 s after the command" for 7 s of game day)."""
    script = ("import time; from gameday.run_command import command_started_at; "
              "print(time.time() - command_started_at())")
    out = subprocess.run(["bash", "-c", f"sleep 3 && exec {sys.executable} -c '{script}'"],
                         cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert 0 <= float(out.stdout) < 3
