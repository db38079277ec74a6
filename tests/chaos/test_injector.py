"""Faults through the injector against moto (server mode, loopback) and fake replicas:
inject → verify → undo for every family, conflicts, failed injections, cleanup and reap."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest

from chaos.context import ChaosContext
from chaos.exceptions import FaultConflict, InjectionFailed
from chaos.faults.injector import Injector
from chaos.ledger import ACTIVE, EXPIRED, UNDONE, Ledger
from chaos.safety import UnsafeTarget
from reference_app.faults import FaultFlags
from tests.chaos.conftest import FUNCTION, JAM_ALARM, FakeStack
from tests.conftest import wait_until


def _injector(stack: FakeStack) -> Injector:
    return Injector(ChaosContext.load(stack.state_dir))


def _flags(stack: FakeStack) -> FaultFlags:
    return FaultFlags(lambda: stack.aws.client("ssm"), refresh_s=0.0)


def test_lambda_error_flag_round_trip(fake_stack: FakeStack) -> None:
    injector = _injector(fake_stack)
    plan = injector.plan("lambda-error", "ALL", {"function": FUNCTION, "rate": 0.5}, 30, seed=1)
    assert plan.targets == [FUNCTION]
    entry = injector.inject(plan)
    spec = _flags(fake_stack).active(f"lambda/{FUNCTION}")
    assert spec is not None and spec.rate == 0.5 and spec.fault_id == entry.fault_id
    assert abs(spec.expires_at - entry.expires_at) < 1e-6
    outcome = injector.undo(entry.fault_id)
    assert outcome.status == UNDONE
    assert _flags(fake_stack).active(f"lambda/{FUNCTION}") is None
    assert injector.undo(entry.fault_id).detail == "already undone"  # idempotent


def test_lambda_error_match_conditions_are_written_and_bad_ones_refused(
        fake_stack: FakeStack) -> None:
    injector = _injector(fake_stack)
    match = [{"field": "Owner", "equals": "p"}, {"field": "Status", "equals": "PENDING"}]
    entry = injector.inject(injector.plan("lambda-error", "ALL", {
        "function": FUNCTION, "match": match}, 30, seed=1))
    spec = _flags(fake_stack).active(f"lambda/{FUNCTION}")
    assert spec is not None and spec.match is not None
    assert spec.match.conditions == (("Owner", "p"), ("Status", "PENDING"))
    injector.undo(entry.fault_id)
    for bad in ([], [{"field": "Owner", "equals": "p", "event": "INSERT"}], [{"field": "x"}]):
        with pytest.raises(ValueError, match="match"):
            injector.plan("lambda-error", "ALL", {"function": FUNCTION, "match": bad}, 30,
                          seed=1)


def test_unknown_function_fails_before_touching_anything(fake_stack: FakeStack) -> None:
    injector = _injector(fake_stack)
    with pytest.raises(InjectionFailed, match="no Lambda function shop-nope"):
        injector.plan("lambda-error", "ALL", {"function": "shop-nope"}, 30)
    assert injector.ledger.entries() == []


def test_a_fault_that_does_not_land_is_undone_and_fails(fake_stack: FakeStack,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.faults import ssm_flag

    injector = _injector(fake_stack)
    plan = injector.plan("service-error", "ALL", {"service": "payments"}, 30)
    monkeypatch.setattr(ssm_flag, "_read", lambda ctx, name: {"fault_id": "someone-else"})
    monkeypatch.setattr(ssm_flag, "poll", lambda check, timeout_s, interval_s=0.1: check())
    with pytest.raises(InjectionFailed, match="does not read back"):
        injector.inject(plan)
    monkeypatch.undo()
    [entry] = injector.ledger.entries()
    assert entry.status == UNDONE and "injection failed" in entry.note


def test_conflicting_fault_is_refused(fake_stack: FakeStack) -> None:
    injector = _injector(fake_stack)
    injector.inject(injector.plan("lambda-error", "ALL", {"function": FUNCTION}, 30))
    with pytest.raises(FaultConflict, match="already under a fault"):
        injector.inject(injector.plan("lambda-latency", "ALL",
                                      {"function": FUNCTION, "delay_ms": 100}, 30))
    injector.cleanup()


def test_kill_replica_holds_and_kills_then_releases(fake_stack: FakeStack) -> None:
    injector = _injector(fake_stack)
    plan = injector.plan("kill-replica", "COUNT(1)", {"service": "payments"}, 20, seed=3)
    again = injector.plan("kill-replica", "COUNT(1)", {"service": "payments"}, 20, seed=3)
    assert plan.targets == again.targets and len(plan.targets) == 1
    entry = injector.inject(plan)
    victim = entry.undo["pids"][plan.targets[0]]
    hold = json.loads((fake_stack.state_dir / "holds" / "payments.json").read_text())
    assert hold["until"] == pytest.approx(entry.expires_at) and entry.fault_id in hold["fault_ids"]
    assert not psutil.pid_exists(victim) or psutil.Process(victim).status() == "zombie"
    survivors = [c for c in fake_stack.children if c.pid != victim]
    assert all(c.poll() is None for c in survivors)
    injector.undo(entry.fault_id)
    assert not (fake_stack.state_dir / "holds" / "payments.json").exists()


def test_kill_replica_refuses_a_process_that_is_not_the_stacks(fake_stack: FakeStack) -> None:
    state = json.loads((fake_stack.state_dir / "state.json").read_text())
    state["supervisor_pid"] = 1  # the children are not init's
    (fake_stack.state_dir / "state.json").write_text(json.dumps(state))
    injector = _injector(fake_stack)
    with pytest.raises(InjectionFailed, match="not a child of the stack's supervisor"):
        injector.inject(injector.plan("kill-replica", "ALL", {"service": "payments"}, 5))
    assert all(c.poll() is None for c in fake_stack.children)
    assert injector.ledger.entries()[0].status == UNDONE


def test_throttle_stream_restores_previous_concurrency(fake_stack: FakeStack) -> None:
    lam = fake_stack.aws.client("lambda")
    lam.put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=7)
    injector = _injector(fake_stack)
    entry = injector.inject(injector.plan("throttle-stream", "ALL", {"function": FUNCTION}, 30))
    assert lam.get_function_concurrency(FunctionName=FUNCTION)["ReservedConcurrentExecutions"] == 0
    assert entry.undo["previous"] == {FUNCTION: 7}
    injector.undo(entry.fault_id)
    assert lam.get_function_concurrency(FunctionName=FUNCTION)["ReservedConcurrentExecutions"] == 7


def test_remove_alarm_and_esm_update_restore_exactly(fake_stack: FakeStack) -> None:
    cw, lam = fake_stack.aws.client("cloudwatch"), fake_stack.aws.client("lambda")
    injector = _injector(fake_stack)
    removed = injector.inject(injector.plan("remove-alarm", "ALL", {"alarm": JAM_ALARM}, 30))
    assert cw.describe_alarms(AlarmNames=[JAM_ALARM])["MetricAlarms"] == []
    stripped = injector.inject(injector.plan(
        "esm-update", "ALL", {"function": FUNCTION, "settings": {
            "BisectBatchOnFunctionError": False, "DestinationConfig": {"OnFailure": {}},
            "MaximumRetryAttempts": -1}}, 30))
    mapping = lam.get_event_source_mapping(UUID=fake_stack.aws.mapping_uuid)
    assert mapping["BisectBatchOnFunctionError"] is False
    assert not mapping["DestinationConfig"].get("OnFailure")
    report = injector.cleanup()
    assert {o.fault_id for o in report.undone} == {removed.fault_id, stripped.fault_id}
    [alarm] = cw.describe_alarms(AlarmNames=[JAM_ALARM])["MetricAlarms"]
    assert alarm["TreatMissingData"] == "breaching" and alarm["Threshold"] == 3000.0
    mapping = lam.get_event_source_mapping(UUID=fake_stack.aws.mapping_uuid)
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] == 2
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        "shop-stream-on-failure")


def test_drop_treat_missing_data(fake_stack: FakeStack) -> None:
    cw = fake_stack.aws.client("cloudwatch")
    injector = _injector(fake_stack)
    entry = injector.inject(injector.plan("remove-alarm", "ALL", {
        "alarm": JAM_ALARM, "mode": "drop-treat-missing-data"}, 30))
    [alarm] = cw.describe_alarms(AlarmNames=[JAM_ALARM])["MetricAlarms"]
    assert alarm.get("TreatMissingData", "missing") == "missing"
    injector.undo(entry.fault_id)
    [alarm] = cw.describe_alarms(AlarmNames=[JAM_ALARM])["MetricAlarms"]
    assert alarm["TreatMissingData"] == "breaching"


def test_cleanup_is_idempotent_and_sweeps_stray_flags(fake_stack: FakeStack) -> None:
    injector = _injector(fake_stack)
    entry = injector.inject(injector.plan("service-latency", "ALL",
                                          {"service": "payments", "delay_ms": 200}, 30))
    fake_stack.aws.client("ssm").put_parameter(
        Name="/gameday/faults/service/reviews", Type="String",
        Value=json.dumps({"fault_id": "orphan", "fault": "service-error",
                          "expires_at": time.time() + 60}))
    first = injector.cleanup()
    assert [o.fault_id for o in first.undone] == [entry.fault_id]
    assert first.strays == ["deleted stray flag /gameday/faults/service/reviews (fault orphan)"]
    second = injector.cleanup()
    assert second.nothing_left and not second.tidied


def test_reap_undoes_only_expired_entries(fake_stack: FakeStack) -> None:
    lam = fake_stack.aws.client("lambda")
    injector = _injector(fake_stack)
    # 2 s: long enough that both injections (with their verification) finish before it
    # expires even on a loaded machine (0.5 s did not, with CI running alongside)
    short = injector.inject(injector.plan("throttle-stream", "ALL", {"function": FUNCTION}, 2))
    other = injector.inject(injector.plan("service-error", "ALL", {"service": "payments"}, 60))
    assert injector.reap() == []  # nothing expired yet
    time.sleep(max(0.0, short.expires_at - time.time()) + 0.1)
    outcomes = injector.reap()
    assert [(o.fault_id, o.status) for o in outcomes] == [(short.fault_id, EXPIRED)]
    assert lam.get_function_concurrency(FunctionName=FUNCTION).get(
        "ReservedConcurrentExecutions") is None
    assert injector.reap() == []
    statuses = {e.fault_id: e.status for e in Ledger(fake_stack.state_dir).entries()}
    assert statuses == {short.fault_id: EXPIRED, other.fault_id: ACTIVE}
    injector.cleanup()


def test_undo_after_the_stack_is_gone(fake_stack: FakeStack) -> None:
    injector = _injector(fake_stack)
    entry = injector.inject(injector.plan("service-error", "ALL", {"service": "payments"}, 60))
    # the stack stopped: no state file, and its AWS endpoint no longer listens
    (fake_stack.state_dir / "state.json").unlink()
    ctx = ChaosContext.load(fake_stack.state_dir, require_stack=False)
    ctx.aws_endpoint = "http://127.0.0.1:9"
    outcome = Injector(ctx).undo(entry.fault_id)
    assert outcome.status == UNDONE and "stack is gone" in outcome.detail


def test_non_loopback_endpoints_are_refused(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({
        "urls": {"aws": "http://10.1.2.3:4566", "storefront": "http://127.0.0.1:1"},
        "region": "us-east-1"}))
    with pytest.raises(UnsafeTarget, match="only loopback"):
        ChaosContext.load(tmp_path)
    (tmp_path / "state.json").write_text(json.dumps({
        "urls": {"aws": "http://127.0.0.1:4566", "storefront": "http://example.com"}}))
    ctx = ChaosContext.load(tmp_path)
    with pytest.raises(UnsafeTarget):
        ctx.url("storefront")


def test_target_aws_needs_the_allowed_account(tmp_path: Path, moto_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """--target-aws reads the account from STS; here the "account" is the session's moto server
    (never a real one: the endpoint is loopback)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    with pytest.raises(UnsafeTarget, match="needs --allow-account"):
        ChaosContext.load(tmp_path, target_aws=True)
    with pytest.raises(UnsafeTarget, match="refusing account 123456789012"):
        ChaosContext.load(tmp_path, target_aws=True, allow_accounts=["999999999999"])
    ctx = ChaosContext.load(tmp_path, target_aws=True, allow_accounts=["123456789012"])
    assert ctx.account == "123456789012"
    # the aws target's kill-replica (ECS) needs the stack whose tagged tasks it may stop
    with pytest.raises(UnsafeTarget, match="needs --target-aws --stack"):
        Injector(ctx).plan("kill-replica", "ALL", {"service": "payments"}, 5)


def test_supervisor_style_hold_file(fake_stack: FakeStack) -> None:
    """The hold file is what local_stack.supervisor reads: a JSON object with `until`."""
    injector = _injector(fake_stack)
    entry = injector.inject(injector.plan("kill-replica", "ALL", {"service": "payments"}, 2))
    data = json.loads((fake_stack.state_dir / "holds" / "payments.json").read_text())
    assert float(data["until"]) == pytest.approx(entry.expires_at)
    wait_until(lambda: all(c.poll() is not None for c in fake_stack.children), 10, 0.05,
               "every fake replica to be killed")
    injector.cleanup()
