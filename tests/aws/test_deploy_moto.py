"""`gameday aws deploy|status|destroy` against moto's CloudFormation (a real moto server on
loopback): the stack deploys, what the aws target's backends look up is found by tag, a failed
resource is named, a wrong account is refused before anything is created."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from deploy.aws import account, catalog, cfn, deployer, events, policy, tags, template
from gameday.cli import main
from local_stack.shop_deploy import MappingSettings

STACK = "gd-test"
ACCOUNT = "123456789012"  # moto's account
BASE = ["--stack", STACK, "--allow-account", ACCOUNT]
DEPLOY = ["aws", "deploy", *BASE, "--image", "example.invalid/shop:1", "--code-only",
          "--products", "3", "--parameter", "MotoCompatible=true"]


def _client(service: str, url: str) -> Any:
    """A client for the test's own checks (botocore's, so `recorded_actions` does not see it)."""
    return botocore.session.get_session().create_client(service, endpoint_url=url,
                                                        region_name="us-east-1")


def _tags_of(found: list[dict[str, str]] | dict[str, str] | None) -> dict[str, str]:
    if isinstance(found, dict):
        return found
    return {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in found or []}


def _nothing_exists(url: str) -> None:
    assert _client("s3", url).list_buckets()["Buckets"] == []
    stacks = _client("cloudformation", url).list_stacks()["StackSummaries"]
    assert [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"] == []


def test_moto_skips_exactly_the_types_the_template_conditions_out() -> None:
    """The template's MOTO_UNSUPPORTED is what moto's CloudFormation has no model for: if moto
    learns one, or the template gains another, this fails and docs/aws.md needs updating."""
    from moto.cloudformation.parsing import get_model_map

    supported = set(get_model_map())
    for path in (template.TEMPLATE_PATH, template.LOCUST_TEMPLATE_PATH):
        types = {r["Type"] for r in template.yaml.safe_load(path.read_text())[
            "Resources"].values()}
        assert types - supported <= cfn.MOTO_UNSUPPORTED
    assert not cfn.MOTO_UNSUPPORTED & supported


def test_deploy_status_destroy(aws_env: str, recorded_actions: set[str],
                               capsys: pytest.CaptureFixture[str]) -> None:
    url = aws_env
    # a wrong account is refused before anything is created
    assert main(["aws", "deploy", "--stack", STACK, "--allow-account", "111111111111",
                 "--image", "x"]) == 2
    assert "refusing account 123456789012" in capsys.readouterr().err
    _nothing_exists(url)
    # a new stack without an image is bad input, refused before anything is created
    assert main([a for a in DEPLOY if a not in ("--image", "example.invalid/shop:1")]) == 2
    assert "needs --image" in capsys.readouterr().err
    _nothing_exists(url)
    # --dry changes nothing
    assert main([*DEPLOY, "--dry"]) == 0
    assert "nothing is changed by --dry" in capsys.readouterr().out
    _nothing_exists(url)

    assert main(DEPLOY) == 0
    out = capsys.readouterr().out
    assert "(CREATE) for stack gd-test" in out
    assert "CREATE_COMPLETE" in out and "AWS::Lambda::EventSourceMapping" in out
    assert "storefront: http://" in out

    cf = _client("cloudformation", url)
    endpoints = catalog.endpoints(cf, STACK)
    assert endpoints["account"] == ACCOUNT and endpoints["region"] == "us-east-1"
    assert endpoints["urls"]["storefront"].startswith("http://")
    assert endpoints["services"] == {s: f"shop-{s}" for s in template.SERVICES}
    assert set(endpoints["stream_functions"]) == {"shop-inventory", "shop-payment",
                                                  "shop-order-completion", "shop-second-look",
                                                  "shop-weekly-view"}
    assert endpoints["tables"]["orders"] == "shop-orders"
    assert endpoints["queues"]["on_failure"].endswith("/shop-stream-on-failure")
    assert endpoints["alarm_prefix"] == "shop-"
    assert endpoints["fault_parameter_prefix"] == "/gameday/faults/"
    assert endpoints["cache"] is None  # no ElastiCache in moto

    _resources_are_found_by_tag(url, endpoints)
    _mappings_have_the_local_settings(url)
    # the catalog was seeded
    assert _client("dynamodb", url).scan(TableName="shop-products", Limit=1)["Items"]

    assert main(["aws", "status", *BASE]) == 0
    assert "service shop-storefront" in capsys.readouterr().out

    bucket = deployer.default_bucket(ACCOUNT, "us-east-1")
    assert _client("s3", url).list_objects_v2(Bucket=bucket, Prefix=f"{STACK}/")["KeyCount"] == 3
    assert main(["aws", "destroy", *BASE]) == 0
    assert "deleted 3 uploaded object(s)" in capsys.readouterr().out
    assert _client("s3", url).list_objects_v2(Bucket=bucket, Prefix=f"{STACK}/")["KeyCount"] == 0
    assert "shop-orders" not in _client("dynamodb", url).list_tables()["TableNames"]
    assert main(["aws", "status", *BASE]) == 3
    assert main(["aws", "destroy", *BASE]) == 0  # idempotent: nothing to destroy
    assert "nothing to destroy" in capsys.readouterr().out

    _operator_policy_is_exactly_what_the_cli_calls(recorded_actions)


def _resources_are_found_by_tag(url: str, endpoints: dict[str, Any]) -> None:
    """What the aws target's backends and probes look up, found by gameday:stack + component."""
    by_stack = [{"Key": tags.STACK_TAG, "Values": [STACK]}]
    tagging = _client("resourcegroupstaggingapi", url)
    mapped = tagging.get_resources(TagFilters=by_stack)["ResourceTagMappingList"]
    components = {_tags_of(m["Tags"]).get(tags.COMPONENT_TAG): m["ResourceARN"] for m in mapped}
    for table in endpoints["tables"].values():
        assert components[table].endswith(f":table/{table}")
    assert components[tags.ON_FAILURE_QUEUE].endswith(":shop-stream-on-failure")

    lam = _client("lambda", url)
    for name in endpoints["functions"]:
        found = _tags_of(lam.get_function(FunctionName=name).get("Tags"))
        assert found[tags.STACK_TAG] == STACK and found[tags.COMPONENT_TAG] == name

    ecs = _client("ecs", url)
    services = ecs.describe_services(cluster=endpoints["cluster"], include=["TAGS"],
                                     services=list(endpoints["services"].values()))["services"]
    assert {_tags_of(s["tags"])[tags.COMPONENT_TAG] for s in services} == set(template.SERVICES)
    assert all(_tags_of(s["tags"])[tags.STACK_TAG] == STACK and s["desiredCount"] >= 2
               for s in services)

    elb = _client("elbv2", url)
    groups = elb.describe_target_groups()["TargetGroups"]
    described = elb.describe_tags(ResourceArns=[g["TargetGroupArn"] for g in groups])
    assert {_tags_of(d["Tags"])[tags.COMPONENT_TAG] for d in described["TagDescriptions"]
            } == set(template.SERVICES)
    balancers = elb.describe_load_balancers()["LoadBalancers"]
    described = elb.describe_tags(ResourceArns=[b["LoadBalancerArn"] for b in balancers])
    assert {_tags_of(d["Tags"])[tags.COMPONENT_TAG] for d in described["TagDescriptions"]
            } == {tags.ALB, tags.INTERNAL_ALB}


def _mappings_have_the_local_settings(url: str) -> None:
    lam = _client("lambda", url)
    local = MappingSettings().parameters("unused")
    for name in ("shop-inventory", "shop-weekly-view"):
        mapping = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"][0]
        for key in ("BatchSize", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                    "BisectBatchOnFunctionError", "FunctionResponseTypes"):
            assert mapping[key] == local[key], (name, key)
        assert mapping["DestinationConfig"]["OnFailure"]["Destination"].endswith(
            ":shop-stream-on-failure")
        assert mapping["MetricsConfig"] == {"Metrics": ["EventCount"]}


def _operator_policy_is_exactly_what_the_cli_calls(recorded: set[str]) -> None:
    """Both ways: every call made (recorded) or written (source scan) is allowed, and every
    Deploy permission is used."""
    allowed = policy.actions(policy.DEPLOY)
    written = policy.called_actions([deployer, events, catalog, account],
                                    ["cloudformation", "s3", "sts", "ecs", "dynamodb"])
    assert recorded, "no call was recorded"
    assert recorded <= allowed, f"called but not in the policy: {sorted(recorded - allowed)}"
    assert written <= allowed, f"in the code but not in the policy: {sorted(written - allowed)}"
    unused = allowed - written - recorded - policy.IMPLIED[policy.DEPLOY]
    assert not unused, f"in the policy but never called: {sorted(unused)}"


def test_a_failed_resource_is_named_and_fails_the_deploy(
        aws_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = aws_env
    ddb = _client("dynamodb", url)
    ddb.create_table(TableName="shop-orders", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "OrderId", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "OrderId", "AttributeType": "S"}])
    try:
        assert main(DEPLOY) == 1
        captured = capsys.readouterr()
        assert "FAILED: OrdersTable (AWS::DynamoDB::Table) CREATE_FAILED" in captured.out
        assert "already exists" in captured.out
        assert "ROLLBACK_COMPLETE" in captured.err
        cf = _client("cloudformation", url)
        assert cf.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == (
            "ROLLBACK_COMPLETE")
        assert main(["aws", "status", *BASE]) == 1
        assert main(DEPLOY) == 1
        assert "gameday aws destroy` it first" in capsys.readouterr().err
    finally:
        assert main(["aws", "destroy", *BASE]) == 0
        ddb.delete_table(TableName="shop-orders")
