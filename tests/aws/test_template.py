"""deploy/aws/*.yaml as data: generated from the shop's definitions, cfn-lint clean, tagged,
least privilege, and the same alarms, tables and mapping settings as the local stack."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.cloudwatch_alarms import (
    ONE_MINUTE_NAMESPACES,
    alarm_definitions,
    insight_rule_definitions,
)
from deploy.aws import cfn, package, tags, template
from local_stack.shop_deploy import ON_FAILURE_QUEUE, SOURCES, MappingSettings
from reference_app.handlers import HANDLERS
from reference_app.tables import table_specs


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def shop() -> dict[str, Any]:
    return _load(template.TEMPLATE_PATH)


def _of_type(doc: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in doc["Resources"].items() if v["Type"] == resource_type}


def test_committed_templates_are_the_generated_ones() -> None:
    for path, text in template.generated_files().items():
        assert path.read_text() == text, (
            f"{path.name} is stale: run `python -m deploy.aws.template` and commit it")


def test_cfn_lint_is_clean() -> None:
    from cfnlint.api import lint_file

    for path in (template.TEMPLATE_PATH, template.LOCUST_TEMPLATE_PATH):
        matches = lint_file(path)
        assert not matches, "\n".join(str(m) for m in matches)


def test_cfn_lint_catches_a_broken_template() -> None:
    """Negative control: the lint step can fail (the template's own queue, with a wrong
    attribute name in an output and a property SQS does not have)."""
    from cfnlint.api import lint

    doc = _load(template.TEMPLATE_PATH)
    queue = dict(doc["Resources"]["OnFailureQueue"])
    queue["Properties"] = {**queue["Properties"], "BatchSize": 10}
    broken = {"Resources": {"OnFailureQueue": queue}, "Outputs": {
        "Url": {"Value": {"Fn::GetAtt": ["OnFailureQueue", "NoSuchAttribute"]}}}}
    rules = {m.rule.id for m in lint(yaml.safe_dump(broken), regions=["us-east-1"])}
    assert "E3002" in rules and rules & {"E1010", "E6101"}, rules  # property; bad GetAtt


def test_alarms_are_the_definitions(shop: dict[str, Any]) -> None:
    deployed = {r["Properties"]["AlarmName"]: r
                for r in _of_type(shop, "AWS::CloudWatch::Alarm").values()}
    local = alarm_definitions(template.ALARM_PREFIX, on_failure_queue=ON_FAILURE_QUEUE)
    on_aws = alarm_definitions(template.ALARM_PREFIX, on_failure_queue=ON_FAILURE_QUEUE,
                               on_aws=True)
    assert sorted(deployed) == sorted(a.name for a in local)
    for here, there in zip(local, on_aws, strict=True):
        resource = deployed[there.name]
        assert resource["Condition"] == cfn.FULL_STACK
        props = {k: v for k, v in resource["Properties"].items() if k != "Tags"}
        assert props == there.to_cloudformation()["Properties"], there.name
        # the one AWS difference: 1-minute AWS metrics cannot have sub-minute periods
        if here.namespace in ONE_MINUTE_NAMESPACES:
            assert there.period == max(60, here.period), there.name
        else:
            assert there == here, there.name


def test_insight_rules_are_the_definitions(shop: dict[str, Any]) -> None:
    """The stuck-correlation-ID alarm reads a Contributor Insights rule: it is deployed too."""
    deployed = {r["Properties"]["RuleName"]: {k: v for k, v in r["Properties"].items()
                                              if k != "Tags"}
                for r in _of_type(shop, "AWS::CloudWatch::InsightRule").values()}
    expected = {rule.name: rule.to_cloudformation()["Properties"]
                for rule in insight_rule_definitions(template.ALARM_PREFIX)}
    assert expected and deployed == expected


def test_tables_are_the_shop_tables(shop: dict[str, Any]) -> None:
    deployed = {r["Properties"]["TableName"]: r["Properties"]
                for r in _of_type(shop, "AWS::DynamoDB::Table").values()}
    specs = table_specs(template.TABLES)
    assert sorted(deployed) == sorted(s.name for s in specs)
    for spec in specs:
        request, props = spec.create_request(), dict(deployed[spec.name])
        assert props.pop("StreamSpecification") == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
        assert request.pop("StreamSpecification")["StreamEnabled"] is True
        props.pop("Tags")
        assert props == request  # keys, indexes, billing: CreateTable's own request
        assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_functions_and_mappings_are_the_local_ones(shop: dict[str, Any]) -> None:
    functions = {r["Properties"]["FunctionName"]: r["Properties"]
                 for r in _of_type(shop, "AWS::Lambda::Function").values()}
    assert set(HANDLERS) <= set(functions)
    for name, handler in HANDLERS.items():
        assert functions[name]["Handler"] == handler
        assert functions[name]["TracingConfig"] == {"Mode": "Active"}
        assert functions[name]["Code"] == {"S3Bucket": {"Ref": "CodeBucket"},
                                           "S3Key": {"Ref": "CodeKey"}}
    local = MappingSettings().parameters("arn:aws:sqs:us-east-1:1:q")
    stream_mappings = [r["Properties"] for r in
                       _of_type(shop, "AWS::Lambda::EventSourceMapping").values()
                       if "StreamArn" in str(r["Properties"]["EventSourceArn"])]
    assert len(stream_mappings) == len(SOURCES)
    for props in stream_mappings:
        function = props["FunctionName"]["Ref"]
        name = next(n for n in SOURCES if template.function_logical(n) == function)
        assert props["EventSourceArn"] == {"Fn::GetAtt": [
            template.table_logical(SOURCES[name]), "StreamArn"]}
        for key, value in local.items():
            if key != "DestinationConfig":
                assert props[key] == value, (name, key)
        assert props["DestinationConfig"] == {
            "OnFailure": {"Destination": {"Fn::GetAtt": ["OnFailureQueue", "Arn"]}}}
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["MetricsConfig"] == {"Metrics": ["EventCount"]}


def test_services_run_at_least_two_tasks(shop: dict[str, Any]) -> None:
    assert shop["Parameters"]["ServiceTaskCount"]["MinValue"] >= 2
    services = {r["Properties"]["ServiceName"]: r["Properties"]
                for r in _of_type(shop, "AWS::ECS::Service").values()}
    assert sorted(services) == sorted(f"shop-{s}" for s in template.SERVICES)
    for props in services.values():
        assert props["DesiredCount"] == {"Ref": "ServiceTaskCount"}
        assert props["LaunchType"] == "FARGATE"
        assert props["LoadBalancers"]
        assert props["PropagateTags"] == "SERVICE"


def _tag_keys(props: dict[str, Any]) -> dict[str, Any]:
    raw = props.get("Tags")
    if isinstance(raw, dict):
        return raw
    return {t["Key"]: t["Value"] for t in raw or []}


@pytest.mark.parametrize("path", [template.TEMPLATE_PATH, template.LOCUST_TEMPLATE_PATH],
                         ids=lambda p: p.name)
def test_every_taggable_resource_carries_the_gameday_tags(path: Path) -> None:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    doc = _load(path)
    stack_ref = {"Ref": "AWS::StackName"} if path == template.TEMPLATE_PATH else {
        "Ref": "ShopStack"}
    for logical_id, resource in doc["Resources"].items():
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(
            "us-east-1", resource["Type"]).schema
        taggable = "Tags" in schema["properties"]
        assert taggable == (resource["Type"] not in cfn.UNTAGGABLE), resource["Type"]
        found = _tag_keys(resource["Properties"])
        if not taggable:
            assert not found, logical_id
            continue
        assert found.get(tags.STACK_TAG) == stack_ref, logical_id
        assert found.get(tags.MANAGED_TAG) == "true", logical_id
        assert found.get(tags.COMPONENT_TAG), logical_id


def test_roles_are_least_privilege(shop: dict[str, Any]) -> None:
    wildcard_ok = {"xray:PutTraceSegments", "xray:PutTelemetryRecords",
                   "xray:GetSamplingRules", "xray:GetSamplingTargets", "cloudwatch:PutMetricData"}
    for logical_id, role in _of_type(shop, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                assert all(not a.endswith("*") for a in actions), (logical_id, actions)
                if statement["Resource"] == ["*"]:
                    assert set(actions) <= wildcard_ok, (logical_id, actions)
                if "cloudwatch:PutMetricData" in actions:
                    assert statement["Condition"] == {
                        "StringEquals": {"cloudwatch:namespace": "Shop"}}
    # each stream consumer reads only its own table's stream and its own tables
    for name, source in SOURCES.items():
        role = shop["Resources"][template.out.logical(name, "role")]
        text = str(role["Properties"]["Policies"])
        for attribute in template.TABLE_ATTRIBUTES:
            mentioned = template.table_logical(attribute) in text
            assert mentioned == (attribute in {source, *template.FUNCTION_TABLES[name]}), (
                name, attribute)


def test_the_lambda_package_holds_every_handler() -> None:
    data = package.build_zip(with_libraries=False)
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    for handler in [*HANDLERS.values(), *template.OTHER_FUNCTIONS.values()]:
        module = handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert module in names
    assert package.digest(data) == package.digest(package.build_zip(with_libraries=False))
    requirements = {r.split("==")[0].lower() for r in package.handler_requirements()}
    assert {"aws-xray-sdk", "prometheus-client"} <= {r.replace("_", "-") for r in requirements}
    assert not requirements & {"boto3", "botocore", "shop-gameday"}
