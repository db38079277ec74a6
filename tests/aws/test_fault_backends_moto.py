"""The aws target's fault backends against a deployed shop in moto (one stack for the module):
each fault injects, is verified, has its undo scheduled in the account (EventBridge Scheduler,
right expiry, target and input) before anything changed, and is undone; only resources tagged
by our stack are targeted; a SIGKILLed CLI leaves only faults whose undo is scheduled, and that
schedule's call undoes them; `gameday run --target aws --dry` names every call, and the
operator policy is exactly what the backends and probes call."""

from __future__ import annotations

import ast
import inspect
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from chaos.context import ChaosContext
from chaos.exceptions import UnsafeTarget
from chaos.faults.aws import scheduled_undo
from chaos.faults.injector import Injector
from chaos.targets import Selection
from deploy.aws import policy, tags
from gameday.cli import main

STACK = "gd-faults"
ACCOUNT = "123456789012"  # moto's
DEPLOY = ["aws", "deploy", "--stack", STACK, "--allow-account", ACCOUNT, "--image",
          "example.invalid/shop:1", "--code-only", "--products", "0",
          "--parameter", "MotoCompatible=true"]
OUR_TAGS = [{"key": tags.STACK_TAG, "value": STACK}, {"key": tags.MANAGED_TAG, "value": "true"},
            {"key": tags.COMPONENT_TAG, "value": "storefront"}]


def _client(service: str, url: str) -> Any:
    """botocore's own client for the test's checks (not a boto3 Session's: not recorded)."""
    return botocore.session.get_session().create_client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def deployed(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The shop deployed into moto, three tagged storefront tasks and one untagged one."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ENDPOINT_URL": moto_url, "CHAOS_AWS_ENDPOINT_URL": moto_url,
                           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1"}.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        warnings.filterwarnings("ignore", message="Tried to parse AWS::")
        assert main(DEPLOY) == 0
        ecs = _client("ecs", moto_url)
        cf = _client("cloudformation", moto_url)
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in cf.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]}
        cluster, service = outputs["ClusterName"], outputs["StorefrontService"]
        # moto starts no service tasks: start them as ECS would (group service:<name>, tags);
        # moto's RunTask needs container-level memory, which the Fargate definition has not
        task_def = ecs.register_task_definition(family="storefront-stand-in", containerDefinitions=[
            {"name": "web", "image": "x", "memory": 128}])["taskDefinition"]["taskDefinitionArn"]
        tasks = [ecs.run_task(cluster=cluster, taskDefinition=task_def, launchType="FARGATE",
                              group=f"service:{service}", tags=OUR_TAGS)["tasks"][0]["taskArn"]
                 for _ in range(3)]
        stranger = ecs.run_task(cluster=cluster, taskDefinition=task_def, launchType="FARGATE",
                                group=f"service:{service}")["tasks"][0]["taskArn"]
        state_dir = tmp_path_factory.mktemp("aws-ledger")
        ctx = ChaosContext.load(state_dir, target_aws=True, allow_accounts=[ACCOUNT],
                                require_stack=False, stack=STACK)
        yield {"url": moto_url, "ctx": ctx, "cluster": cluster, "service": service,
               "tasks": [t.rsplit("/", 1)[-1] for t in tasks],
               "stranger": stranger.rsplit("/", 1)[-1], "state_dir": state_dir}
        assert main(["aws", "destroy", "--stack", STACK, "--allow-account", ACCOUNT]) == 0


def _schedules(url: str) -> dict[str, dict[str, Any]]:
    sched = _client("scheduler", url)
    names = [s["Name"] for s in sched.list_schedules(NamePrefix=scheduled_undo.PREFIX)[
        "Schedules"]]
    return {n: sched.get_schedule(Name=n, GroupName="default") for n in names}


def _fire(url: str, schedule: dict[str, Any]) -> None:
    """What EventBridge Scheduler does at the schedule's time (moto never fires): call the
    universal target's API action with the schedule's input, as the undo role."""
    *_, service, action = schedule["Target"]["Arn"].split(":")
    client = _client(service, url)
    getattr(client, xform_name(action[0].upper() + action[1:]))(**json.loads(
        schedule["Target"]["Input"]))


def _check_schedules(url: str, entry: Any, ctx: ChaosContext, arn_suffix: str) -> list[dict]:
    found = _schedules(url)
    mine = [found[n] for n in entry.undo["schedules"]]
    assert mine, "no undo scheduled"
    for schedule in mine:
        assert schedule["ScheduleExpression"] == scheduled_undo.at_expression(
            entry.expires_at + scheduled_undo.GRACE_S)
        assert schedule["ScheduleExpressionTimezone"] == "UTC"
        assert schedule["ActionAfterCompletion"] == "DELETE"
        assert schedule["Target"]["Arn"] == f"arn:aws:scheduler:::aws-sdk:{arn_suffix}"
        assert schedule["Target"]["RoleArn"] == ctx.catalog()["undo_role_arn"]
    inputs = [json.loads(s["Target"]["Input"]) for s in mine]
    assert inputs == [c["params"] for c in entry.undo["undo_calls"]]
    return mine


def test_kill_replica_stops_a_seeded_selection_of_tagged_tasks_and_holds_them_down(
        deployed: dict[str, Any]) -> None:
    ctx, url = deployed["ctx"], deployed["url"]
    ecs = _client("ecs", url)
    injector = Injector(ctx)
    plan = injector.plan("kill-replica", "COUNT(2)", {"service": "storefront"}, 120, seed=7)
    # the untagged task of the same service is never a candidate
    assert plan.candidates == sorted(deployed["tasks"])
    assert deployed["stranger"] not in plan.candidates
    assert plan.targets == Selection.parse("COUNT(2)").choose(deployed["tasks"], 7)
    assert any(e.startswith("scheduler:CreateSchedule") for e in plan.effects)

    entry = injector.inject(plan)
    described = ecs.describe_tasks(cluster=deployed["cluster"], tasks=plan.targets)["tasks"]
    assert {t["desiredStatus"] for t in described} == {"STOPPED"}
    service = ecs.describe_services(cluster=deployed["cluster"],
                                    services=[deployed["service"]])["services"][0]
    assert service["desiredCount"] == 0  # 2 - 2 stopped: held down
    _check_schedules(url, entry, ctx, "ecs:updateService")
    assert entry.undo["undo_calls"][0]["params"]["desiredCount"] == 2

    outcome = injector.undo(entry.fault_id, by_owner=True)
    assert outcome.status == "undone" and "restored" in outcome.detail
    assert ecs.describe_services(cluster=deployed["cluster"], services=[
        deployed["service"]])["services"][0]["desiredCount"] == 2
    assert not set(entry.undo["schedules"]) & set(_schedules(url))


CASES = [
    ("throttle-stream", {"function": "shop-inventory"}, "lambda:deleteFunctionConcurrency"),
    ("throttle-stream", {"function": "shop-payment", "mode": "mapping"},
     "lambda:updateEventSourceMapping"),
    ("lambda-error", {"function": "shop-inventory", "rate": 0.5}, "ssm:deleteParameter"),
    ("service-latency", {"service": "payments", "delay_ms": 300}, "ssm:deleteParameter"),
    ("esm-update", {"function": "shop-weekly-view",
                    "settings": {"BisectBatchOnFunctionError": False}},
     "lambda:updateEventSourceMapping"),
]


def _observe(ctx: ChaosContext, fault: str, params: dict[str, Any]) -> Any:
    """What the fault changes, read from the account."""
    lam, ssm = ctx.client("lambda"), ctx.client("ssm")
    if fault == "throttle-stream" and params.get("mode") != "mapping":
        return lam.get_function_concurrency(FunctionName=params["function"]).get(
            "ReservedConcurrentExecutions")
    if fault in ("throttle-stream", "esm-update"):
        mapping = lam.list_event_source_mappings(FunctionName=params["function"])[
            "EventSourceMappings"][0]
        return mapping["State"], mapping["BisectBatchOnFunctionError"]
    kind, target = ("lambda", params["function"]) if "function" in params else (
        "service", params["service"])
    names = ssm.get_parameters_by_path(Path=f"/gameday/faults/{kind}")["Parameters"]
    return sorted(p["Name"] for p in names if p["Name"].endswith("/" + target))


@pytest.mark.parametrize("fault, params, arn_suffix", CASES,
                         ids=[f"{c[0]}-{c[1].get('mode', '')}" for c in CASES])
def test_each_fault_injects_schedules_its_undo_and_is_undone(
        deployed: dict[str, Any], fault: str, params: dict[str, Any], arn_suffix: str) -> None:
    ctx, url = deployed["ctx"], deployed["url"]
    injector = Injector(ctx)
    before = _observe(ctx, fault, params)
    entry = injector.inject(injector.plan(fault, "ALL", params, 60, seed=1))
    during = _observe(ctx, fault, params)
    assert during != before, f"{fault} changed nothing"
    _check_schedules(url, entry, ctx, arn_suffix)
    outcome = injector.undo(entry.fault_id, by_owner=True)
    assert outcome.status == "undone", outcome.detail
    assert _observe(ctx, fault, params) == before
    assert not set(entry.undo["schedules"]) & set(_schedules(url))


def test_only_resources_tagged_by_our_stack_are_targeted(deployed: dict[str, Any]) -> None:
    ctx, url = deployed["ctx"], deployed["url"]
    lam = _client("lambda", url)
    role = _client("iam", url).create_role(RoleName="stranger", AssumeRolePolicyDocument="{}")
    lam.create_function(FunctionName="shop-stranger", Runtime="python3.11",
                        Role=role["Role"]["Arn"], Handler="x.h", Code={"ZipFile": b"x"},
                        Tags={tags.STACK_TAG: "another-stack", tags.MANAGED_TAG: "true"})
    cw = _client("cloudwatch", url)
    alarm = {"MetricName": "M", "Namespace": "Shop", "Statistic": "Sum", "Period": 60,
             "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"}
    cw.put_metric_alarm(AlarmName="shop-untagged", **alarm)
    cw.put_metric_alarm(AlarmName="shop-tagged", **alarm, Tags=[
        {"Key": tags.STACK_TAG, "Value": STACK}, {"Key": tags.MANAGED_TAG, "Value": "true"}])
    injector = Injector(ctx)
    for name, params in [("lambda-error", {"function": "shop-stranger"}),
                         ("throttle-stream", {"function": "shop-stranger"}),
                         ("remove-alarm", {"alarm": "shop-untagged"})]:
        with pytest.raises(UnsafeTarget, match=f"{tags.STACK_TAG}={STACK}"):
            injector.plan(name, "ALL", params, 30)
    # nothing was changed in the refused ones; a tagged alarm is removed and put back
    assert lam.get_function_concurrency(FunctionName="shop-stranger").get(
        "ReservedConcurrentExecutions") is None
    entry = injector.inject(injector.plan("remove-alarm", "ALL", {"alarm": "shop-tagged"}, 30))
    assert cw.describe_alarms(AlarmNames=["shop-tagged"])["MetricAlarms"] == []
    _check_schedules(url, entry, ctx, "cloudwatch:putMetricAlarm")
    assert injector.undo(entry.fault_id, by_owner=True).status == "undone"
    assert cw.describe_alarms(AlarmNames=["shop-tagged"])["MetricAlarms"][0]["Threshold"] == 1
    # a stack that is not the one named is not acted on: its catalog is not found
    other = ChaosContext.load(deployed["state_dir"], target_aws=True, allow_accounts=[ACCOUNT],
                              require_stack=False, stack="not-our-stack")
    with pytest.raises(LookupError, match="no stack"):
        Injector(other).plan("lambda-error", "ALL", {}, 30)


def test_a_sigkilled_cli_leaves_only_faults_whose_undo_is_scheduled(
        deployed: dict[str, Any], tmp_path: Path) -> None:
    url = deployed["url"]
    lam = _client("lambda", url)
    cli = subprocess.Popen(  # noqa: S603 - our interpreter, fixed argv
        [sys.executable, "-m", "chaos", "inject", "throttle-stream", "--target-aws",
         "--allow-account", ACCOUNT, "--stack", STACK, "--function", "shop-second-look",
         "--duration", "10m", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ), text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = cli.stdout.readline() if cli.stdout else ""
            lines.append(line)
            if line.startswith("injected") or not line:
                break
        assert lines[-1].startswith("injected"), "".join(lines)
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait(10)
    finally:
        if cli.poll() is None:
            cli.kill()
    # the fault outlived its CLI ...
    assert lam.get_function_concurrency(FunctionName="shop-second-look")[
        "ReservedConcurrentExecutions"] == 0
    ledger = json.loads((tmp_path / "ledger.json").read_text())
    entries = ledger["entries"] if isinstance(ledger, dict) else ledger
    active = [e for e in entries if e["status"] == "active"]
    assert len(active) == 1
    # a cleanup from another ledger reports the pending undo and leaves it in place
    other = ChaosContext.load(tmp_path / "other", target_aws=True, allow_accounts=[ACCOUNT],
                              require_stack=False, stack=STACK)
    strays = Injector(other).cleanup().strays
    assert any(active[0]["fault_id"] in line for line in strays), strays
    assert set(active[0]["undo"]["schedules"]) <= set(_schedules(url))
    # ... and every fault it left has its undo scheduled; firing it undoes the fault
    schedules = _schedules(url)
    for name in active[0]["undo"]["schedules"]:
        assert name in schedules
        assert schedules[name]["ScheduleExpression"] == scheduled_undo.at_expression(
            active[0]["expires_at"] + scheduled_undo.GRACE_S)
        _fire(url, schedules[name])
    assert lam.get_function_concurrency(FunctionName="shop-second-look").get(
        "ReservedConcurrentExecutions") is None
    # the ledger's own cleanup finds nothing left to change, and deletes the schedule
    ctx = ChaosContext.load(tmp_path, target_aws=True, allow_accounts=[ACCOUNT],
                            require_stack=False, stack=STACK)
    report = Injector(ctx).cleanup()
    assert not report.failed
    assert not [line for line in report.strays if active[0]["fault_id"] in line]
    assert not set(active[0]["undo"]["schedules"]) & set(_schedules(url))


def test_dry_game_day_prints_every_call_and_the_policy_is_exactly_what_is_called(
        deployed: dict[str, Any], recorded_actions: set[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    base = ["run", "--target", "aws", "--stack", STACK, "--seed", "3", "--dry"]
    # a wrong account is refused before anything else
    assert main([*base, "--allow-account", "111111111111"]) == 2
    assert "refusing account 123456789012" in capsys.readouterr().err
    before = _schedules(deployed["url"])
    assert main([*base, "--allow-account", ACCOUNT]) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing was changed" in out
    assert _schedules(deployed["url"]) == before
    planned = {_action(line.split()[0]) for line in out.split("every AWS API call")[1]
               .splitlines() if line.startswith("  ") and ":" in line.split()[0]}
    assert "ecs:StopTask" in planned and "scheduler:CreateSchedule" in planned
    # every step of the default game day has an aws reading, with its bounds on aws
    assert "no reading" not in out
    assert "audit-clean: audit" in out and "storefront-replaced: supervisor-events" in out
    assert "jam-detected: alarm {'alarm': 'shop-inventory-stream-jam'} == 'ALARM' within 150s" \
        in out

    allowed = policy.actions(policy.GAME_DAY) | policy.actions(policy.DEPLOY)
    used = _static_calls() | planned | recorded_actions
    assert planned <= allowed, f"planned but not allowed: {sorted(planned - allowed)}"
    assert recorded_actions <= allowed, f"called, not allowed: {recorded_actions - allowed}"
    assert used <= allowed, f"in the code but not in the policy: {sorted(used - allowed)}"
    unused = policy.actions(policy.GAME_DAY) - used - policy.IMPLIED[policy.GAME_DAY]
    assert not unused, f"in the policy but never called: {sorted(unused)}"


def _action(call: str) -> str:
    service, operation = call.split(":", 1)
    return policy.iam_action(service, operation)


def _undo_actions() -> set[str]:
    """IAM actions of every `UndoCall("service", "Operation", ...)` in the aws backends."""
    from chaos.faults.aws import alarms, ecs_tasks, flags, lambda_stream

    found = set()
    for module in (alarms, ecs_tasks, flags, lambda_stream):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "UndoCall"
                    and isinstance(node.args[0], ast.Constant)):
                found.add(policy.iam_action(node.args[0].value, node.args[1].value))
    return found


def test_the_undo_role_may_make_exactly_the_undo_calls() -> None:
    """The role the schedules run as (template UndoSchedulerRole) allows exactly the undo
    calls the backends schedule: one missing and a dead CLI's fault is never undone."""
    from deploy.aws import template

    role = template.build()["Resources"]["UndoSchedulerRole"]["Properties"]
    allowed = {a for statement in role["Policies"][0]["PolicyDocument"]["Statement"]
               for a in statement["Action"]}
    assert allowed == _undo_actions()
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"Service": "scheduler.amazonaws.com"}


def _static_calls() -> set[str]:
    """The IAM actions of the boto3 calls in the aws backends' and probes' source (each module
    with the services it talks to), of every undo they schedule, and of the probes' calls."""
    from chaos.faults import esm_update, lambda_lookup, remove_alarm, ssm_flag, throttle_stream
    from chaos.faults.aws import alarms, ecs_tasks, fis, tagging
    from chaos.probes import alarms as alarm_probes
    from chaos.probes import monitoring, queues
    from chaos.probes.aws import PROBE_CALLS, alb, cloudwatch, dynamodb, ecs, sqs

    modules = {ecs_tasks: ["ecs"], tagging: ["lambda", "ecs"], alarms: ["cloudwatch"],
               scheduled_undo: ["scheduler"], fis: ["fis"], ssm_flag: ["ssm"],
               throttle_stream: ["lambda"], esm_update: ["lambda"], remove_alarm: ["cloudwatch"],
               ecs: ["ecs"], alb: ["elbv2"], cloudwatch: ["cloudwatch"], sqs: ["sqs"],
               dynamodb: ["dynamodb"], alarm_probes: ["cloudwatch"], monitoring: ["cloudwatch"],
               queues: ["sqs", "dynamodbstreams"]}
    found = {"lambda:ListEventSourceMappings"}  # lambda_lookup.mappings_of (paginated)
    assert lambda_lookup  # its other call, ListFunctions, is the local target's only
    for module, services in modules.items():
        found |= policy.called_actions([module], services)
    found |= _undo_actions()
    for calls in PROBE_CALLS.values():
        found |= {_action(c) for c in calls}
    return found


def test_the_fis_alternative_template_is_accepted(deployed: dict[str, Any]) -> None:
    """moto stores FIS templates (it runs no experiment): the generated request is accepted
    and reads back with its action, parameters and tag-selected functions."""
    from chaos.faults.aws import fis

    ctx = deployed["ctx"]
    request = fis.experiment_template("lambda-latency", STACK, ctx.catalog()["undo_role_arn"],
                                      45, rate=0.5, delay_ms=800)
    template_id = fis.create(ctx.client("fis"), request)
    found = ctx.client("fis").get_experiment_template(id=template_id)["experimentTemplate"]
    assert found["actions"]["lambda-latency"]["actionId"] == "aws:lambda:invocation-add-delay"
    assert found["actions"]["lambda-latency"]["parameters"]["startupDelayMilliseconds"] == "800"
    assert found["targets"]["functions"]["resourceTags"][tags.STACK_TAG] == STACK


def test_no_scheduled_undo_no_fault(deployed: dict[str, Any]) -> None:
    """Negative control of the order: when the undo cannot be scheduled (here: a stack whose
    outputs name no undo role), nothing is injected and nothing is left."""
    from chaos.exceptions import InjectionFailed

    ctx = deployed["ctx"]
    injector = Injector(ctx)
    plan = injector.plan("throttle-stream", "ALL", {"function": "shop-order-completion"}, 30)
    role = ctx.catalog()["undo_role_arn"]
    ctx.catalog()["undo_role_arn"] = None
    throttled: list[str] = []
    events = ctx.client("lambda").meta.events
    def record(**kwargs: Any) -> None:
        throttled.append(kwargs["model"].name)
    events.register("before-call.lambda.PutFunctionConcurrency", record)
    try:
        with pytest.raises(InjectionFailed, match="no UndoRoleArn"):
            injector.inject(plan)
    finally:
        ctx.catalog()["undo_role_arn"] = role
        events.unregister("before-call.lambda.PutFunctionConcurrency", record)
    assert throttled == [], "the fault was injected before its undo was scheduled"
    assert ctx.client("lambda").get_function_concurrency(
        FunctionName="shop-order-completion").get("ReservedConcurrentExecutions") is None
    assert not injector.ledger.active()


def test_the_aws_probes_read_the_stack(deployed: dict[str, Any]) -> None:
    """Each aws probe through the probe catalog (dispatched by the context's target), against
    what the test put into the stack's resources."""
    from chaos.probes.catalog import PROBES
    from chaos.probes.env import ProbeEnv

    ctx, url = deployed["ctx"], deployed["url"]
    env = ProbeEnv(ctx=ctx)
    counts = PROBES["ecs-running"].fn(env, {"service": "payments"})
    assert counts["desired"] == 2  # the template's ServiceTaskCount
    assert PROBES["replicas-alive"].fn(env, {"service": "payments"}) == counts["running"]
    health = PROBES["alb-healthy"].fn(env, {"service": "storefront"})
    assert health == {"healthy": 0, "total": 0, "states": {}}  # moto registers no targets

    catalog = ctx.catalog()
    _client("sqs", url).send_message(QueueUrl=catalog["queues"]["on_failure"], MessageBody="{}")
    assert PROBES["sqs-depth"].fn(env, {"queue": "on_failure"})["visible"] == 1
    ddb = _client("dynamodb", url)
    for order_id, status in (("o-1", "COMPLETED"), ("o-2", "COMPLETED"), ("o-3", "PENDING")):
        ddb.put_item(TableName=catalog["tables"]["orders"],
                     Item={"OrderId": {"S": order_id}, "Status": {"S": status}})
    assert PROBES["orders-table"].fn(env, {}) == {"COMPLETED": 2, "PENDING": 1}

    cw = _client("cloudwatch", url)
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{
        "MetricName": "IteratorAge", "Value": 4500.0, "Unit": "Milliseconds",
        "Dimensions": [{"Name": "FunctionName", "Value": "shop-inventory"}]}])
    assert PROBES["iterator-age"].fn(env, {"function": "shop-inventory"}) == 4.5
    assert PROBES["cloudwatch-metric"].fn(env, {
        "namespace": "AWS/Lambda", "name": "IteratorAge",
        "dimensions": {"FunctionName": "shop-inventory"}}) == 4500.0
    assert PROBES["stream"].fn(env, {"function": "shop-inventory"})["iterator_age_s"] == 4.5
    assert PROBES["breaker"].fn(env, {"dependency": "payments"}) is None  # nobody reports
    cw.put_metric_data(Namespace="Shop", MetricData=[{
        "MetricName": "BreakerOpen", "Value": 1.0, "StorageResolution": 1,
        "Dimensions": [{"Name": "Dependency", "Value": "payments"}]}])
    assert PROBES["breaker"].fn(env, {"dependency": "payments"}) == "open"


def _empty(ddb: Any, table: str) -> None:
    keys = [k["AttributeName"] for k in ddb.describe_table(TableName=table)["Table"]["KeySchema"]]
    for item in ddb.scan(TableName=table)["Items"]:
        ddb.delete_item(TableName=table, Key={k: item[k] for k in keys})


def test_the_audit_on_aws_reads_the_stacks_tables(deployed: dict[str, Any]) -> None:
    """The `audit` probe on aws: the shop's own audit of the stack's tables (names from the
    catalog); a clean stack passes, a planted orphan payment and a lost order are found, and
    with a baseline only the problem that appeared since is blamed."""
    from chaos.probes.catalog import PROBES
    from chaos.probes.env import ProbeEnv

    ctx, url = deployed["ctx"], deployed["url"]
    tables = ctx.catalog()["tables"]
    ddb = _client("dynamodb", url)
    for name in ("orders", "payments", "products", "carts"):
        _empty(ddb, tables[name])
    audit = PROBES["audit"].fn
    env, args = ProbeEnv(ctx=ctx), ["--json", "--grace-s", "30"]
    ddb.put_item(TableName=tables["orders"], Item={  # a settled, consistent order
        "OrderId": {"S": "o-ok"}, "Status": {"S": "CANCELLED"}, "AmountCents": {"N": "0"},
        "CreatedAt": {"N": str(int(time.time() - 600))}})
    clean = audit(env, {"args": args})
    assert clean["clean"] and clean["exit_code"] == 0 and clean["counts"]["orders"] == 1

    old = {"N": str(int(time.time() - 600))}
    ddb.put_item(TableName=tables["payments"], Item={
        "IdempotencyKey": {"S": "pay-orphan"}, "OrderId": {"S": "o-gone"},
        "Status": {"S": "CAPTURED"}, "AmountCents": {"N": "1200"}, "CreatedAt": old})
    dirty = audit(env, {"args": args})
    assert not dirty["clean"] and dirty["exit_code"] == 1
    assert [p["check"] for p in dirty["problems"]] == ["orphan_payment"]

    ddb.put_item(TableName=tables["orders"], Item={  # accepted, never settled: lost
        "OrderId": {"S": "o-lost"}, "Status": {"S": "PENDING"}, "AmountCents": {"N": "900"},
        "CreatedAt": old})
    judged = audit(env, {"args": args, "baseline": dirty})
    assert not judged["clean"] and judged["new"] == ["stuck_order order o-lost"]
    assert judged["preexisting"] == ["orphan_payment payment pay-orphan"]
    # the same baseline excuses the orphan alone (a young order is in flight, not lost)
    ddb.delete_item(TableName=tables["orders"], Key={"OrderId": {"S": "o-lost"}})
    assert audit(env, {"args": args, "baseline": dirty})["clean"]
    with pytest.raises(ValueError, match="not the audit's"):
        audit(env, {"args": ["--grace", "x"]})
    for name in ("orders", "payments"):
        _empty(ddb, tables[name])


def test_supervisor_events_on_aws_count_the_replacement_of_a_killed_task(
        deployed: dict[str, Any]) -> None:
    """`supervisor-events` on aws (storefront-replica-killed's `storefront-replaced`): a task
    the service starts after kill-replica stopped one of its tasks is a replacement; tasks that
    were running before, or are not tagged by our stack, are not."""
    from chaos.probes import processes
    from chaos.probes.catalog import PROBES
    from chaos.probes.env import ProbeEnv

    ctx, url = deployed["ctx"], deployed["url"]
    ecs = _client("ecs", url)
    cluster, service = deployed["cluster"], deployed["service"]
    task_def = ecs.list_task_definitions(familyPrefix="storefront-stand-in")[
        "taskDefinitionArns"][0]

    def start(tags: list[dict[str, str]] | None = None) -> str:
        return str(ecs.run_task(cluster=cluster, taskDefinition=task_def, launchType="FARGATE",
                                group=f"service:{service}", **({"tags": tags} if tags else {})
                                )["tasks"][0]["taskArn"].rsplit("/", 1)[-1])

    start(OUR_TAGS)  # one more running task: something to kill whatever ran before
    env, params = ProbeEnv(ctx=ctx), {"kind": "replaced", "process": "storefront"}
    injector = Injector(ctx)
    since = time.time()
    entry = injector.inject(injector.plan("kill-replica", "COUNT(1)", {"service": "storefront"},
                                          60, seed=2))
    try:
        assert PROBES["supervisor-events"].fn(env, params) == 0  # nothing replaced it yet
        died = processes.events(ctx, since, ("died",), "storefront")
        assert [e["process"] for e in died] == [f"storefront/{entry.targets[0]}"]
        start()  # not ours: never a replacement
        assert PROBES["supervisor-events"].fn(env, params) == 0
        replacement = start(OUR_TAGS)  # what the ECS service scheduler does
        assert PROBES["supervisor-events"].fn(env, params) == 1
        replaced = processes.events(ctx, since, ("replaced",), "storefront")
        assert [e["process"] for e in replaced] == [f"storefront/{replacement}"]
        assert PROBES["supervisor-events"].fn(env, {**params, "process": "payments"}) == 0
        with pytest.raises(ValueError, match="no reading on aws"):
            processes.events(ctx, since, ("hold_expired",), "storefront")
    finally:
        injector.undo(entry.fault_id, by_owner=True)


def test_stream_delta_on_aws_sums_the_mappings_metrics_since_a_stream_reading(
        deployed: dict[str, Any]) -> None:
    """poison-record's `poison-isolated` on aws: records sent to OnFailure since `stream-before`
    are the function's mappings' OnFailureDestinationDeliveredEventCount (AWS/Lambda, by
    EventSourceMappingUUID); another function's mapping does not count."""
    from chaos.probes.catalog import PROBES
    from chaos.probes.env import ProbeEnv

    ctx, url = deployed["ctx"], deployed["url"]
    env, lam, cw = ProbeEnv(ctx=ctx), _client("lambda", url), _client("cloudwatch", url)
    before = PROBES["stream"].fn(env, {"function": "shop-inventory"})
    delta = PROBES["stream-delta"].fn
    params = {"function": "shop-inventory", "since": before}
    assert delta(env, params)["records_on_failure"] == 0

    def sent(function: str, n: float) -> None:
        uuid = lam.list_event_source_mappings(FunctionName=function)[
            "EventSourceMappings"][0]["UUID"]
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{
            "MetricName": "OnFailureDestinationDeliveredEventCount", "Value": n, "Unit": "Count",
            "Dimensions": [{"Name": "EventSourceMappingUUID", "Value": uuid}]}])

    sent("shop-payment", 5)
    assert delta(env, params)["records_on_failure"] == 0
    sent("shop-inventory", 1)
    assert delta(env, params)["records_on_failure"] == 1
    with pytest.raises(ValueError, match="`since` from a `stream` probe on aws"):
        delta(env, {"function": "shop-inventory", "since": {"records_on_failure": 0}})
