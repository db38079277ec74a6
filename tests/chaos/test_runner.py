"""The experiment runner end to end against fakes (moto + a fake storefront): a passing run
with its journal/report/JUnit, a guard breach that aborts and rolls back, a failed injection,
a steady state not met, and how a negative control's exit code is decided."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from chaos.context import ChaosContext
from chaos.ledger import Ledger
from chaos.runner.run import ExperimentRunner, RunOptions
from chaos.spec.loader import load_text
from tests.chaos.conftest import FakeStack

EXPERIMENT = """\
version: 1
title: fake payments errors
observe: {interval: 0.1s, breakers: [payments]}
steady-state-hypothesis:
  title: healthy
  probes:
    - name: healthy
      probe: http
      params: {url: storefront}
      tolerance: {equals: 200}
    - name: breaker-closed
      probe: breaker
      params: {dependency: payments}
      tolerance: {equals: closed}
      within: 5s
method:
  - type: fault
    name: payments-errors
    fault: service-error
    params: {service: payments, rate: 0.5}
    duration: 1.5s
  - type: probe
    name: orders-metric
    probe: metric
    params: {url: storefront, name: shop_orders_total, labels: {status: placed}}
    tolerance: {min: 3}
  - type: probe
    name: breaker-opens
    probe: breaker
    params: {dependency: payments}
    tolerance: {equals: open}
    within: 5s
  - type: wait-for-faults
    timeout: 10s
verdicts:
  - metric: probe
    params: {name: orders-metric}
    equals: 3
  - metric: time_to_breaker_open_s
    params: {dependency: payments}
    max: 5
control:
  description: nothing to switch off here; used to test exit codes
"""


def _flip_breaker_while_faulted(stack: FakeStack) -> threading.Thread:
    """Plays the storefront: the breaker opens while a fault is active, closes after."""
    def run() -> None:
        ledger = Ledger(stack.state_dir)
        deadline = time.monotonic() + 20
        seen = False
        while time.monotonic() < deadline:
            if ledger.active():
                seen = True
                stack.shop.breakers["payments"] = "open"
            elif seen:
                stack.shop.breakers["payments"] = "closed"
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _run(stack: FakeStack, text: str, tmp_path: Path, control: bool = False):
    experiment = load_text(text, "fake.yaml")
    ctx = ChaosContext.load(stack.state_dir)
    options = RunOptions(seed=3, control=control, out_dir=tmp_path / "out",
                         handle_signals=False)
    return ExperimentRunner(experiment, ctx, options).run()


def test_a_passing_run_writes_journal_report_and_junit(fake_stack: FakeStack,
                                                       tmp_path: Path) -> None:
    flipper = _flip_breaker_while_faulted(fake_stack)
    result = _run(fake_stack, EXPERIMENT, tmp_path)
    flipper.join(timeout=10)
    assert result.outcome == "passed", [v.to_dict() for v in result.verdicts if not v.passed]
    assert result.exit_code == 0
    assert 0 <= result.numbers["time_to_breaker_open_s[payments]"] < 2
    assert result.numbers["time_to_breaker_closed_s[payments]"] is not None
    journal = json.loads(result.files["journal"].read_text())
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    assert [a["activity"].get("name") for a in journal["run"]][:3] == [
        "payments-errors", "orders-metric", "breaker-opens"]
    ended = [f["ended"] for f in journal["faults"] if "ended" in f]
    assert len(ended) == 1
    # ended on schedule (not before; the undo itself may take a moment on a busy machine)
    assert ended[0]["planned_end"] <= ended[0]["end"] < ended[0]["planned_end"] + 5
    assert result.files["junit"].read_text().count("<testcase") == len(result.verdicts)
    assert "<svg" in result.files["html"].read_text()
    # the fault is gone: ledger undone, SSM parameter deleted
    assert not Ledger(fake_stack.state_dir).active()
    params = fake_stack.aws.client("ssm").get_parameters_by_path(Path="/gameday/faults",
                                                                Recursive=True)
    assert params["Parameters"] == []


def test_a_guard_breach_aborts_and_rolls_back(fake_stack: FakeStack, tmp_path: Path) -> None:
    text = EXPERIMENT.replace("""  - type: probe
    name: breaker-opens""", """  - type: pause
    duration: 8s
  - type: probe
    name: breaker-opens""").replace("duration: 1.5s", "duration: 20s") + """\
stop-conditions:
  interval: 0.2s
  guards:
    - name: storefront-healthy
      probe: http
      params: {url: storefront}
      tolerance: {equals: 200}
"""

    def break_health() -> None:
        time.sleep(1.0)
        fake_stack.shop.health = 500

    threading.Thread(target=break_health, daemon=True).start()
    started = time.monotonic()
    result = _run(fake_stack, text, tmp_path)
    assert result.outcome == "aborted"
    assert time.monotonic() - started < 8  # neither the pause nor the 20 s fault ran out
    assert result.exit_code == 1
    assert any(v.kind == "stop-condition" and not v.passed for v in result.verdicts)
    assert not Ledger(fake_stack.state_dir).active()
    fake_stack.shop.health = 200


def test_a_failed_injection_is_an_error_and_an_inconclusive_control(
        fake_stack: FakeStack, tmp_path: Path) -> None:
    text = EXPERIMENT.replace("fault: service-error\n    params: {service: payments, rate: 0.5}",
                              "fault: lambda-error\n    params: {function: shop-nope}")
    result = _run(fake_stack, text, tmp_path)
    assert result.outcome == "error" and "shop-nope" in result.reason
    assert result.exit_code == 1
    control = _run(fake_stack, text, tmp_path, control=True)
    assert control.outcome == "error" and control.exit_code == 1  # proves nothing


def test_steady_state_not_met_injects_nothing(fake_stack: FakeStack, tmp_path: Path) -> None:
    fake_stack.shop.health = 503
    result = _run(fake_stack, EXPERIMENT, tmp_path)
    fake_stack.shop.health = 200
    assert result.outcome == "error" and "steady state" in result.reason
    assert not Ledger(fake_stack.state_dir).exists()


def test_a_control_that_fails_is_conclusive(fake_stack: FakeStack, tmp_path: Path) -> None:
    # no breaker flipper: the breaker never opens, so the verdicts fail
    text = EXPERIMENT.replace("within: 5s\n  - type: wait-for-faults",
                              "within: 1s\n  - type: wait-for-faults")
    result = _run(fake_stack, text, tmp_path, control=True)
    assert result.outcome == "failed"
    assert result.variant == "control" and result.exit_code == 0
    failed = {v.title for v in result.verdicts if not v.passed}
    assert "method-probe: breaker-opens" in failed


def test_a_control_failing_on_something_else_is_inconclusive(fake_stack: FakeStack,
                                                             tmp_path: Path) -> None:
    # the breaker never opens (verdicts fail) but the control says the metric probe must fail
    text = EXPERIMENT.replace("within: 5s\n  - type: wait-for-faults",
                              "within: 1s\n  - type: wait-for-faults").replace(
        "  description: nothing to switch off here; used to test exit codes\n",
        "  description: nothing to switch off here; used to test exit codes\n"
        "  expect-failing: [orders-metric]\n")
    result = _run(fake_stack, text, tmp_path, control=True)
    assert result.outcome == "failed"
    assert result.failed_as_expected() == ["orders-metric"]
    assert not result.conclusive_control and result.exit_code == 1


MONITORED = """\
version: 1
title: jam detection
steady-state-hypothesis:
  title: the jam alarm is quiet
  probes:
    - name: jam-alarm-ok
      probe: alarm
      params: {alarm: shop-inventory-stream-jam}
      tolerance: {in: [OK, INSUFFICIENT_DATA]}
method:
  - type: fault
    name: inventory-errors
    fault: lambda-error
    params: {function: shop-inventory, rate: 1.0}
    duration: 1s
  - type: probe
    name: jam-detected
    probe: alarm
    params: {alarm: shop-inventory-stream-jam}
    tolerance: {equals: ALARM}
verdicts:
  - title: the jam alarm fires within 15 s
    metric: time_to_alarm_s
    params: {alarm: shop-inventory-stream-jam}
    max: 15
"""


def test_deleted_or_disabled_monitoring_fails_the_detection_hypothesis_by_name(
        fake_stack: FakeStack, tmp_path: Path) -> None:
    """Missing monitoring is what a detection experiment exists to find: FAILED (not ERROR,
    "steady state not met ... observed null"), each check that reads the alarm named with the
    alarm and why, and nothing injected. With the alarm in place the same run goes on to
    inject (its detection then fails for want of an evaluator: that is the fake's limit)."""
    cloudwatch = fake_stack.aws.client("cloudwatch")
    cloudwatch.delete_alarms(AlarmNames=["shop-inventory-stream-jam"])
    result = _run(fake_stack, MONITORED, tmp_path / "deleted")
    assert result.outcome == "failed" and not result.reason and result.exit_code == 1
    failed = {v.title: v for v in result.verdicts if not v.passed}
    assert set(failed) == {"monitoring for steady state: jam-alarm-ok",
                           "monitoring for detection: jam-detected",
                           "monitoring for the jam alarm fires within 15 s"}
    assert all(v.observed == "alarm shop-inventory-stream-jam does not exist (deleted?)"
               for v in failed.values())
    assert not Ledger(fake_stack.state_dir).exists()

    cloudwatch.put_metric_alarm(
        AlarmName="shop-inventory-stream-jam", Namespace="AWS/Lambda", MetricName="IteratorAge",
        Dimensions=[{"Name": "FunctionName", "Value": "shop-inventory"}], Statistic="Maximum",
        Period=10, EvaluationPeriods=1, Threshold=3000.0,
        ComparisonOperator="GreaterThanThreshold", ActionsEnabled=False)
    disabled = _run(fake_stack, MONITORED, tmp_path / "disabled")
    assert disabled.outcome == "failed" and not disabled.reason
    assert {str(v.observed) for v in disabled.verdicts if not v.passed} == {
        "alarm shop-inventory-stream-jam has its actions disabled: it would notify nobody"}

    cloudwatch.enable_alarm_actions(AlarmNames=["shop-inventory-stream-jam"])
    in_place = _run(fake_stack, MONITORED, tmp_path / "in-place")
    assert not [v for v in in_place.verdicts if v.kind == "monitoring"]
    assert Ledger(fake_stack.state_dir).exists()  # the method ran: the fault was injected
