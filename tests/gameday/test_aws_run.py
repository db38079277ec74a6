"""`gameday run --target aws` without AWS: flags refused before anything is called, and the
aws game day's phases (no stack started, Locust allowed at the stack's ALB, every fault undone
at teardown through the aws context) with fakes for the network parts. The run against a stack
(--dry, the account check) is tests/aws/test_fault_backends_moto.py."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from chaos.faults.injector import CleanupReport, Injector, UndoOutcome
from gameday.cli import main
from gameday.run import aws_target, orchestrator
from gameday.run.orchestrator import GameDayOptions
from gameday.run.progress import ProgressDisplay

ACCOUNT = "123456789012"


@pytest.mark.parametrize("argv, message", [
    (["--target", "aws", "--allow-account", ACCOUNT], "needs --stack"),
    (["--target", "aws", "--stack", "shop"], "needs --allow-account"),
    (["--dry"], "apply to --target aws"),
    (["--stack", "shop"], "apply to --target aws"),
])
def test_flags_are_refused_before_anything_runs(argv: list[str], message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--experiments", "payments-breaker", *argv]) == 2
    assert message in capsys.readouterr().err


class FakeContext:
    target = "aws"
    stack = "shop"
    account = ACCOUNT
    aws_endpoint = None

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def catalog(self) -> dict[str, Any]:
        return {"urls": {"storefront": "http://shop-alb.example.invalid"}}


class FakeLocust:
    started: list[list[str]] = []

    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.argv = argv
        self.proc = None

    def start(self) -> None:
        FakeLocust.started.append(self.argv)

    def running(self) -> bool:
        return True

    def stop(self) -> int:
        return 0


def test_the_aws_game_day_uses_the_stack_and_undoes_its_faults(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws_target, "first_request", lambda url, stop=None: time.time())
    monkeypatch.setattr(aws_target, "smoke_order", lambda url, timeout_s, stop=None: {
        "order_id": "o-1", "status": "COMPLETED", "seconds": 1.0, "url": url})
    monkeypatch.setattr(orchestrator, "LocustProcess", FakeLocust)
    undone = UndoOutcome("kill-replica-1", "kill-replica", ["task-1"], "undone",
                         "restored shop-storefront desiredCount 2")
    monkeypatch.setattr(Injector, "cleanup", lambda self: CleanupReport(undone=[undone]))
    ctx = FakeContext(tmp_path / "ledger")
    options = GameDayOptions(experiments=[], seed=1, report_dir=tmp_path / "report")
    options.report_dir.mkdir()
    result = aws_target.AwsGameDay(options, ProgressDisplay(io.StringIO()), ctx).run()

    assert not result.error, result.error
    assert result.stack["target"] == "aws" and result.stack["stack"] == "shop"
    assert result.warmup["url"] == "http://shop-alb.example.invalid"
    argv = FakeLocust.started[-1]
    assert argv[argv.index("--host") + 1] == "http://shop-alb.example.invalid"
    assert "--allow-remote" in argv
    assert result.teardown["faults_undone"] == [
        "undid kill-replica-1: restored shop-storefront desiredCount 2"]
    summary = json.loads((options.report_dir / "summary.json").read_text())
    assert summary["stack"]["target"] == "aws"
