"""local_stack.moto_cloudformation_fixes: each gap shown on plain moto (the negative control),
then closed by the fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

from local_stack import moto_cloudformation_fixes as fixes


def template(prefix: str) -> str:
    """A small stack with named resources (`prefix`-queue, -table, -fn) and its own VPC."""
    return json.dumps(_TEMPLATE).replace("fix-", f"{prefix}-")


_TEMPLATE = {
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "fix-queue"}},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": "fix-table", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "Id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "Id", "AttributeType": "S"}]}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "fix-fn", "Runtime": "python3.11", "Handler": "a.b",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Code": {"ZipFile": "x"},
            "Tags": [{"Key": "gameday:component", "Value": "fix-fn"}]}},
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}},
        "Igw": {"Type": "AWS::EC2::InternetGateway"},
        "Attach": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Igw"}}},
        "Routes": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
    },
    "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
}


def _client(service: str, url: str) -> Any:
    return botocore.session.get_session().create_client(service, endpoint_url=url,
                                                        region_name="us-east-1")


def _table(url: str, name: str) -> None:
    _client("dynamodb", url).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "S"}])


@pytest.fixture
def plain_moto(aws_env: str) -> Iterator[str]:
    fixes.uninstall()
    try:
        yield aws_env
    finally:
        fixes.install()


def _create(cf: Any, stack: str, prefix: str) -> str:
    change_set = cf.create_change_set(StackName=stack, ChangeSetName="cs", ChangeSetType="CREATE",
                                      TemplateBody=template(prefix))
    cf.execute_change_set(ChangeSetName=change_set["Id"])
    return str(change_set["Id"])


def test_plain_moto_has_the_gaps(plain_moto: str) -> None:
    from botocore.exceptions import ClientError

    cf = _client("cloudformation", plain_moto)
    _create(cf, "plain", "plain")
    described = cf.describe_stacks(StackName="plain")["Stacks"][0]
    assert "Outputs" not in described  # 1. no outputs after a change set
    statuses = {e["LogicalResourceId"] for e in
                cf.describe_stack_events(StackName="plain")["StackEvents"]}
    assert statuses == {"plain"}  # 2. no resource events
    assert "Tags" not in _client("lambda", plain_moto).get_function(FunctionName="plain-fn")
    with pytest.raises(ClientError, match="DependencyViolation"):
        cf.delete_stack(StackName="plain")  # 5. the VPC outlives its route table and gateway
    # 3. a failing resource fails ExecuteChangeSet itself (another service's error escapes)
    _table(plain_moto, "plainx-table")
    with pytest.raises(Exception):  # noqa: B017 - botocore cannot even parse moto's answer
        _create(cf, "plain-again", "plainx")


def test_fixed_moto_behaves_like_cloudformation(aws_env: str) -> None:
    cf = _client("cloudformation", aws_env)
    _create(cf, "fixed", "fix")
    described = cf.describe_stacks(StackName="fixed")["Stacks"][0]
    assert described["Outputs"][0]["OutputValue"].endswith("/fix-queue")
    events = cf.describe_stack_events(StackName="fixed")["StackEvents"]
    assert ("Table", "CREATE_COMPLETE") in {(e["LogicalResourceId"], e["ResourceStatus"])
                                           for e in events}
    assert _client("lambda", aws_env).get_function(FunctionName="fix-fn")["Tags"] == {
        "gameday:component": "fix-fn"}
    cf.delete_stack(StackName="fixed")
    assert "fix-table" not in _client("dynamodb", aws_env).list_tables()["TableNames"]

    # the same names again while a table of that name exists: CREATE_FAILED, rolled back
    _table(aws_env, "fix-table")
    _create(cf, "fixed-again", "fix")  # answers normally, as ExecuteChangeSet does on AWS
    described = cf.describe_stacks(StackName="fixed-again")["Stacks"][0]
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in cf.describe_stack_events(StackName="fixed-again")["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Table"]
    assert "already exists" in failed[0]["ResourceStatusReason"]
    assert "fix-queue" not in str(_client("sqs", aws_env).list_queues())  # rolled back
    cf.delete_stack(StackName="fixed-again")
    _client("dynamodb", aws_env).delete_table(TableName="fix-table")
