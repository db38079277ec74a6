"""CloudFormation building blocks shared by the shop's template (template.py) and the nested
Locust template (locust_template.py): intrinsic functions, and a `Builder` that tags every
resource with the gameday tags and puts what moto's CloudFormation cannot create under the
`FullStack` condition."""

from __future__ import annotations

from typing import Any

from deploy.aws import tags

FULL_STACK = "FullStack"

# Resource types moto's CloudFormation has no model for (checked by tests/aws against moto).
MOTO_UNSUPPORTED = frozenset({
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::InsightRule",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::ElastiCache::ReplicationGroup",
})
# Resource types that take no tags in CloudFormation (tests/aws checks it with cfn-lint's
# schemas); every other resource gets the three gameday tags.
UNTAGGABLE = frozenset({
    "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::Route", "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::SecurityGroupIngress", "AWS::Lambda::Permission",
})
TAG_MAP_TYPES = frozenset({"AWS::SSM::Parameter"})


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def att(name: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [name, attribute]}


def if_full(value: Any, otherwise: Any) -> dict[str, Any]:
    return {"Fn::If": [FULL_STACK, value, otherwise]}


class Builder:
    """Collects resources (tagging each), conditions and outputs."""

    def __init__(self, description: str, stack_name: Any = None) -> None:
        self.stack_name = stack_name  # the gameday:stack tag's value (default: this stack)
        self.template: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": description,
            "Parameters": {},
            "Conditions": {},
            "Resources": {},
            "Outputs": {},
        }

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def parameter(self, name: str, **spec: Any) -> None:
        self.template["Parameters"][name] = spec

    def condition(self, name: str, expression: Any) -> None:
        self.template["Conditions"][name] = expression

    def add(self, logical_id: str, resource_type: str, properties: dict[str, Any],
            component: str, **extra: Any) -> str:
        if logical_id in self.resources:
            raise ValueError(f"duplicate logical id {logical_id}")
        props = dict(properties)
        if resource_type in TAG_MAP_TYPES:
            props["Tags"] = tags.tag_map(component, self.stack_name)
        elif resource_type not in UNTAGGABLE:
            props["Tags"] = tags.tag_list(component, self.stack_name)
        resource: dict[str, Any] = {"Type": resource_type}
        if resource_type in MOTO_UNSUPPORTED:
            resource["Condition"] = FULL_STACK
        resource.update(extra)
        resource["Properties"] = props
        self.resources[logical_id] = resource
        return logical_id

    def output(self, key: str, value: Any, description: str, condition: str | None = None
               ) -> None:
        entry: dict[str, Any] = {"Description": description, "Value": value}
        if condition:
            entry["Condition"] = condition
        self.template["Outputs"][key] = entry
