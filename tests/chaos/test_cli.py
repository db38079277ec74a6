"""The CLI as users run it: inject (detached, blocking, dry), status, cleanup (twice), reap,
validate, run --dry; refusals; and a CLI SIGKILLed in the middle of a fault."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from chaos.cli import main
from chaos.experiments import default_experiments
from chaos.ledger import Ledger
from reference_app.faults import FaultFlags
from tests.chaos.conftest import FUNCTION, FakeStack, sigkill_after_injected, spawn_inject
from tests.conftest import wait_until


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_inject_detached_status_cleanup_twice(fake_stack: FakeStack,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    sd = str(fake_stack.state_dir)
    code, out, _ = _cli(capsys, "inject", "service-error", "--service", "payments",
                        "--rate", "0.5", "--duration", "60s", "--detach", "--state-dir", sd)
    assert code == 0 and "injected service-error-" in out
    code, out, _ = _cli(capsys, "status", "--state-dir", sd)
    assert code == 0 and "service-error-" in out and "payments" in out
    code, out, _ = _cli(capsys, "cleanup", "--state-dir", sd)
    assert code == 0 and out.startswith("undid service-error-")
    code, out, _ = _cli(capsys, "cleanup", "--state-dir", sd)
    assert code == 0 and out.strip() == "nothing left to clean up"
    code, out, _ = _cli(capsys, "status", "--state-dir", sd)
    assert out.strip() == "no active faults"


def test_blocking_inject_ends_its_fault(fake_stack: FakeStack,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code, out, _ = _cli(capsys, "inject", "throttle-stream", "--function", FUNCTION,
                        "--duration", "1s", "--state-dir", str(fake_stack.state_dir))
    assert code == 0 and "ended throttle-stream-" in out
    assert time.monotonic() - started >= 0.9  # it waited out the duration before undoing
    [entry] = Ledger(fake_stack.state_dir).entries()
    assert entry.status == "undone"
    concurrency = fake_stack.aws.client("lambda").get_function_concurrency(FunctionName=FUNCTION)
    assert concurrency.get("ReservedConcurrentExecutions") is None


def test_malformed_target_is_named_before_looking_for_a_stack(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "inject", "kill-replica", "--service", "payments", "--target",
                        "COUNT(x)", "--duration", "5s", "--state-dir", str(tmp_path))
    assert code == 2
    assert "'COUNT(x)' is not a target selection" in err


def test_dry_inject_and_bad_usage(fake_stack: FakeStack,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    sd = str(fake_stack.state_dir)
    code, out, _ = _cli(capsys, "inject", "kill-replica", "--service", "payments", "--target",
                        "COUNT(1)", "--seed", "4", "--dry", "--state-dir", sd)
    assert code == 0 and "dry run: nothing touched" in out and "SIGKILL payments-" in out
    assert all(c.poll() is None for c in fake_stack.children)
    code, _, err = _cli(capsys, "inject", "kill-replica", "--service", "payments", "--target",
                        "COUNT(5)", "--state-dir", sd)
    assert code == 2 and "only 2 candidate" in err
    # an unknown target name is bad input like any other (2), not a fault that did not land (1)
    code, _, err = _cli(capsys, "inject", "lambda-error", "--function", "nope", "--state-dir", sd)
    assert code == 2 and "no Lambda function nope" in err
    code, _, err = _cli(capsys, "inject", "service-error", "--service", "nosuch", "--state-dir",
                        sd)
    assert code == 2 and "not ['nosuch']" in err
    code, _, err = _cli(capsys, "inject", "dynamodb-throttle", "--service", "nosuch",
                        "--state-dir", sd)
    assert code == 2 and "no service ['nosuch']" in err
    assert Ledger(fake_stack.state_dir).entries() == []  # nothing was recorded, nothing touched


def test_refuses_non_loopback_and_missing_stack(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "inject", "service-error", "--state-dir", str(tmp_path))
    assert code == 3 and "no running stack" in err  # ExitCode.UNAVAILABLE, as everywhere
    (tmp_path / "state.json").write_text(json.dumps({"urls": {"aws": "http://192.0.2.1:4566"}}))
    code, _, err = _cli(capsys, "inject", "service-error", "--state-dir", str(tmp_path))
    assert code == 2 and "only loopback" in err


def test_validate_and_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in default_experiments()]
    code, out, _ = _cli(capsys, "validate", *files)
    assert code == 0 and out.count(": ok (") == len(files)
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(files[0]).read_text().replace("duration: 20s", "duration: soon", 1)
                   .replace("duration: 15s", "duration: soon", 1)
                   .replace("duration: 25s", "duration: soon", 1))
    code, _, err = _cli(capsys, "validate", str(bad))
    assert code == 2 and "is not a duration" in err and f"{bad}:" in err
    code, out, _ = _cli(capsys, "run", files[0], "--dry", "--state-dir", str(tmp_path / "none"))
    assert code == 0 and out.startswith("plan: ") and "dry run: nothing touched" in out


def test_reap_is_quiet_when_nothing_expired(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "reap", "--state-dir", str(tmp_path))
    assert (code, out, err) == (0, "", "")


def test_sigkilled_cli_fault_ends_by_itself_then_cleanup_has_nothing_left(
        fake_stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    flags = FaultFlags(lambda: fake_stack.aws.client("ssm"), refresh_s=0.0)
    sigkill_after_injected(spawn_inject(fake_stack.state_dir, "lambda-error", "--function",
                                        FUNCTION, "--duration", "3s"))
    spec = flags.active(f"lambda/{FUNCTION}")
    assert spec is not None  # still in effect: nobody undid it
    wait_until(lambda: flags.active(f"lambda/{FUNCTION}") is None,
               spec.expires_at - time.time() + 2, 0.05, "the flag to expire")
    assert time.time() <= spec.expires_at + 2
    code, out, _ = _cli(capsys, "cleanup", "--state-dir", str(fake_stack.state_dir))
    assert code == 0 and "nothing left to clean up" in out and "tidied 1 fault" in out


def test_sigkilled_cli_throttle_is_reaped(fake_stack: FakeStack,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    lam = fake_stack.aws.client("lambda")
    sigkill_after_injected(spawn_inject(fake_stack.state_dir, "throttle-stream", "--function",
                                        FUNCTION, "--duration", "2s"))
    assert lam.get_function_concurrency(FunctionName=FUNCTION)["ReservedConcurrentExecutions"] == 0
    code, out, _ = _cli(capsys, "reap", "--state-dir", str(fake_stack.state_dir))
    assert code == 0 and out == ""  # not expired yet: nothing to reap
    time.sleep(max(0.0, Ledger(fake_stack.state_dir).entries()[0].expires_at - time.time()))
    code, out, _ = _cli(capsys, "reap", "--state-dir", str(fake_stack.state_dir))
    assert code == 0 and out.startswith("expired  throttle-stream-")
    assert lam.get_function_concurrency(FunctionName=FUNCTION).get(
        "ReservedConcurrentExecutions") is None
    code, out, _ = _cli(capsys, "cleanup", "--state-dir", str(fake_stack.state_dir))
    assert out.strip() == "nothing left to clean up"


def test_gameday_chaos_subcommand_registers(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from gameday import chaos_commands

    parser = argparse.ArgumentParser(prog="gameday")
    chaos_commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["chaos", "status", "--state-dir", str(tmp_path)])
    assert args.func(args) == 3  # no stack: nothing to ask (not "no active faults")
    assert "no running stack" in capsys.readouterr().err
