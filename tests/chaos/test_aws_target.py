"""The aws target's pieces that need no AWS: targets as one idea (every fault name has a
backend on every target, dispatch by the context's target and by the ledger entry's), the
scheduled undo's request, the FIS template, stop conditions naming CloudWatch alarms, and
probes refusing a target they cannot read."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chaos.faults.aws import fis, scheduled_undo
from chaos.faults.aws.scheduled_undo import UndoCall
from chaos.faults.injector import Injector
from chaos.ledger import Entry
from chaos.probes.catalog import PROBES, ProbeUnavailable
from chaos.probes.env import ProbeEnv
from chaos.runner.guards import Guards
from chaos.spec.loader import InvalidExperiment, load_text
from chaos.spec.sections import StopConditions
from chaos.targets import TARGETS, target_of


@dataclass
class FakeCloudWatch:
    state: str = "OK"

    def describe_alarms(self, **_: Any) -> dict[str, Any]:
        return {"MetricAlarms": [{"AlarmName": "shop-x", "StateValue": self.state}]}


@dataclass
class FakeCtx:
    target: str = "local"
    state: dict[str, Any] = field(default_factory=dict)
    cloudwatch: FakeCloudWatch = field(default_factory=FakeCloudWatch)

    def client(self, service: str, attempts: int = 3) -> Any:
        assert service == "cloudwatch"
        return self.cloudwatch


def test_every_fault_has_a_backend_on_every_target() -> None:
    assert TARGETS.names() == ["aws", "compose", "local"]
    names = {t: set(TARGETS[t].faults().names()) for t in TARGETS}
    assert names["aws"] == names["local"] == names["compose"]
    # aws's are its own (chaos/faults/aws), the others the local families
    assert type(TARGETS["aws"].fault("kill-replica")).__module__ == "chaos.faults.aws.ecs_tasks"
    assert TARGETS["local"].fault("kill-replica") is TARGETS["compose"].fault("kill-replica")
    for target in TARGETS:
        assert TARGETS[target].deploy and TARGETS[target].teardown


def test_dispatch_follows_the_context_and_the_ledger() -> None:
    assert target_of(FakeCtx("aws")).name == "aws"
    assert target_of(FakeCtx("compose")).name == "compose"
    entry = Entry(fault_id="f-1", name="throttle-stream", targets=["fn"], params={},
                  started_at=0.0, expires_at=1.0, undo={"target": "aws"})
    assert Injector.fault_of(entry) is TARGETS["aws"].fault("throttle-stream")
    entry.undo = {}  # a ledger written before targets existed: local
    assert Injector.fault_of(entry) is TARGETS["local"].fault("throttle-stream")
    with pytest.raises(ValueError, match="unknown target 'gcp'"):
        target_of(FakeCtx("gcp"))


def test_the_scheduled_undo_request() -> None:
    call = UndoCall("ecs", "UpdateService", {"cluster": "c", "service": "s", "desiredCount": 2})
    req = scheduled_undo.request("kill-replica-abc", 0, call, 1_800_000_000.4, "arn:role")
    assert req["Name"] == "gameday-undo-kill-replica-abc-0"
    # 30 s of grace after the expiry, whole seconds rounded up
    assert req["ScheduleExpression"] == "at(2027-01-15T08:00:31)"
    assert req["ScheduleExpressionTimezone"] == "UTC"
    assert req["ActionAfterCompletion"] == "DELETE"
    assert req["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert req["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:ecs:updateService"
    assert req["Target"]["RoleArn"] == "arn:role"
    assert json.loads(req["Target"]["Input"]) == call.params
    assert len(scheduled_undo.schedule_name("x" * 80, 3)) <= 64

    made: list[tuple[str, dict[str, Any]]] = []

    class Ecs:
        def update_service(self, **params: Any) -> None:
            made.append(("update_service", params))

    call.call(Ecs())
    assert made == [("update_service", call.params)]


def test_fis_template_for_lambda_faults() -> None:
    error = fis.experiment_template("lambda-error", "shop", "arn:role", 90, rate=0.25,
                                    stop_alarm_arns=["arn:alarm"])
    action = error["actions"]["lambda-error"]
    assert action["actionId"] == "aws:lambda:invocation-error"
    assert action["parameters"] == {"duration": "PT1M30S", "invocationPercentage": "25",
                                    "preventExecution": "true"}
    assert error["targets"]["functions"]["resourceTags"] == {"gameday:stack": "shop",
                                                             "gameday:managed": "true"}
    assert error["stopConditions"] == [{"source": "aws:cloudwatch:alarm", "value": "arn:alarm"}]
    delay = fis.experiment_template("lambda-latency", "shop", "arn:role", 30, delay_ms=500,
                                    functions=["arn:fn"])
    assert delay["actions"]["lambda-latency"]["parameters"]["startupDelayMilliseconds"] == "500"
    assert delay["targets"]["functions"]["resourceArns"] == ["arn:fn"]
    assert delay["stopConditions"] == [{"source": "none"}]
    with pytest.raises(ValueError, match="delay_ms"):
        fis.experiment_template("lambda-latency", "shop", "arn:role", 30)
    with pytest.raises(ValueError, match="no action for 'kill-replica'"):
        fis.experiment_template("kill-replica", "shop", "arn:role", 30)


EXPERIMENT = """
version: 1
title: t
steady-state-hypothesis: {title: ok, probes: []}
method: [{type: pause, duration: 1s}]
stop-conditions: %s
"""


def test_stop_conditions_name_cloudwatch_alarms() -> None:
    experiment = load_text(EXPERIMENT % "{alarms: [shop-x], interval: 1s}")
    assert experiment.stop_conditions.alarms == ("shop-x",)
    # the alarm must exist before the method (a stop condition that cannot fire is none)
    from chaos.probes.monitoring import relied_on

    assert [c.alarms for c in relied_on(experiment.data)] == [("shop-x",)]
    with pytest.raises(InvalidExperiment):
        load_text(EXPERIMENT % "{interval: 1s}")  # neither guards nor alarms
    ctx = FakeCtx()
    env = ProbeEnv(ctx=ctx)  # type: ignore[arg-type]
    guards = Guards(env, list(StopConditions.from_spec({"alarms": ["shop-x"]}).guards), 1.0,
                    threading.Event())
    assert guards.check_once() is None  # OK: no breach
    ctx.cloudwatch.state = "ALARM"
    breach = guards.check_once()
    assert breach is not None and breach["observed"] == "ALARM"


def test_probes_refuse_a_target_they_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(ProbeUnavailable, match="reads the aws target, not local"):
        PROBES["ecs-running"].fn(ProbeEnv(ctx=FakeCtx()), {"service": "storefront"})  # type: ignore[arg-type]
    with pytest.raises(ProbeUnavailable, match="'metric' has no reading on the aws"):
        PROBES["metric"].fn(ProbeEnv(ctx=FakeCtx("aws")), {"name": "x", "url": "storefront"})  # type: ignore[arg-type]


def test_a_local_context_never_marks_an_aws_fault_undone(tmp_path: Path) -> None:
    """Without --target-aws there is no stack file and no local endpoint: a local fault would
    count as gone with its stack, an aws one must not (it still holds in the account)."""
    from chaos.context import ChaosContext
    from chaos.ledger import ACTIVE, Ledger

    ledger = Ledger(tmp_path)
    entry = Entry(fault_id="throttle-stream-1", name="throttle-stream", targets=["fn"],
                  params={"function": ["fn"]}, started_at=0.0, expires_at=9e9,
                  undo={"target": "aws", "stack": "shop", "previous": {"fn": None}})
    with ledger.transaction() as entries:
        entries.append(entry)
    ctx = ChaosContext.load(tmp_path, require_stack=False)
    outcome = Injector(ctx, ledger).undo(entry.fault_id)
    assert outcome.status == "failed" and "--target-aws" in outcome.detail
    assert "--stack shop" in outcome.detail
    assert ledger.get(entry.fault_id).status == ACTIVE  # type: ignore[union-attr]


def test_fis_template_command(capsys: pytest.CaptureFixture[str]) -> None:
    from chaos.cli import main as chaos_main

    base = ["fis-template", "lambda-error", "--role-arn", "arn:aws:iam::1:role/fis"]
    assert chaos_main([*base, "--stack", "shop", "--rate", "0.5", "--duration", "2m"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["actions"]["lambda-error"]["parameters"]["invocationPercentage"] == "50"
    assert chaos_main(base) == 2  # no stack to select functions by
    assert "needs --stack" in capsys.readouterr().err
    # creating acts on an account: refused without --target-aws, before any call
    assert chaos_main([*base, "--stack", "shop", "--create"]) == 2
    assert "--target-aws --allow-account" in capsys.readouterr().err
