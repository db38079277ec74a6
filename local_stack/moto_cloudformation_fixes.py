"""Make moto's CloudFormation change sets behave like CloudFormation where `gameday aws` depends
on it.

`gameday aws deploy` (deploy/aws/) deploys through change sets and follows the stack's events,
as it must on AWS. Three gaps in moto 5.x's change sets, verified in its source
(moto/cloudformation/models.py, ``ChangeSet.apply`` and ``execute_change_set``):

1. **No outputs after a change set.** ``Stack`` builds its output map from the (empty) template
   it was created with; ``ChangeSet.apply`` updates the resources but never the outputs, so
   DescribeStacks has no ``Outputs`` after ExecuteChangeSet (``create_stack`` has them). Fix:
   rebuild the output map after each applied change set.
2. **No resource events.** moto records only the stack's own events, so a deploy cannot show
   which resource is being created. Fix: ``CREATE_IN_PROGRESS`` / ``CREATE_COMPLETE`` /
   ``CREATE_FAILED`` (with the error as ``ResourceStatusReason``) per resource, as AWS does.
3. **A failing resource fails the API call.** ExecuteChangeSet runs the resource creation
   inline and moto's error escapes as the HTTP answer of ExecuteChangeSet (often another
   service's JSON error that botocore cannot even parse). On AWS the call succeeds, the resource
   event says ``CREATE_FAILED`` with the reason, and the stack rolls back (``ROLLBACK_COMPLETE``
   for a new stack, ``UPDATE_ROLLBACK_COMPLETE`` for an update). Fix: catch the error, record
   those events, delete what the new stack had created, and answer ExecuteChangeSet normally.
   Not done: the rollback of a failed *update* does not restore the previous resources (the
   stack's status and events say rolled back; moto has no earlier state to return to).
4. **Tags dropped.** moto's CloudFormation models of Lambda functions, ECS clusters, services
   and task definitions and ELBv2 load balancers and target groups ignore ``Tags``, so the
   resources the aws target looks up by tag are not found. Fix: after creating one of these,
   tag it through its service's own backend (``TAGGED_BY_FIX``). Other gaps (event source
   mappings, tags propagated to ECS tasks) are listed in docs/aws.md.
5. **A stack with its own VPC cannot be deleted.** moto's models of route tables, subnet
   associations, internet gateways and their attachments, NAT gateways, Elastic IPs and VPC
   endpoints have no CloudFormation delete (a silent no-op), so they outlive the stack and
   DeleteStack fails on the VPC (DependencyViolation). Fix: before moto deletes a stack's
   resources, delete those through the EC2 backend, in dependency order.

`install()` patches once (idempotent) and raises MotoHookNotFound if moto's code has moved.
tests/aws/test_moto_fixes.py shows each gap on plain moto (negative control) and the fix.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from local_stack.moto_hooks import MotoHookNotFound

log = logging.getLogger("local_stack.moto_cloudformation_fixes")

_MARK = "__gameday_cloudformation_fix__"
_lock = threading.Lock()
_originals: dict[str, Any] = {}


def _reason(exc: BaseException) -> str:
    code = getattr(exc, "error_type", None) or getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{code}: {message}" if isinstance(code, str) and code else str(message)


def _stack_of(account_id: str, region_name: str, stack_id: str) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account_id][region_name].stacks.get(stack_id)


def _event(stack: Any, logical_id: str, physical_id: str | None, resource_type: str,
           status: str, reason: str | None = None) -> None:
    from moto.cloudformation.models import Event

    stack.events.append(Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id=physical_id or "", resource_type=resource_type,
        resource_status=status, resource_status_reason=reason, resource_properties=None))


TAGGED_BY_FIX = frozenset({
    "AWS::Lambda::Function", "AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::ECS::TaskDefinition",
    "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::TargetGroup",
})


def _apply_tags(resource_type: str, resource: Any, resource_json: dict[str, Any],
                resources_map: Any, account_id: str, region_name: str) -> None:
    """Tag `resource` as CloudFormation would, for the types moto's models leave untagged."""
    if resource_type not in TAGGED_BY_FIX:
        return
    from moto.cloudformation.parsing import clean_json

    raw = (resource_json.get("Properties") or {}).get("Tags") or []
    tags = {str(t["Key"]): str(t["Value"]) for t in clean_json(raw, resources_map)}
    if not tags:
        return
    if resource_type == "AWS::Lambda::Function":
        from moto.awslambda.models import lambda_backends

        lambda_backends[account_id][region_name].tag_resource(resource.function_arn, tags)
    elif resource_type.startswith("AWS::ECS::"):
        from moto.ecs.models import ecs_backends

        ecs_backends[account_id][region_name].tag_resource(resource.arn, tags)
    else:
        from moto.elbv2.models import elbv2_backends

        elbv2_backends[account_id][region_name].add_tags(
            [resource.arn], [{"Key": k, "Value": v} for k, v in tags.items()])


# EC2 types whose moto model cannot delete itself, in the order to delete them.
NETWORK_LEFTOVERS = (
    "AWS::EC2::VPCEndpoint", "AWS::EC2::NatGateway", "AWS::EC2::EIP",
    "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::RouteTable",
    "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::InternetGateway",
)


def _delete_network(resource_map: Any) -> None:
    from moto.cloudformation.parsing import clean_json
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[resource_map._account_id][resource_map._region_name]
    parsed = dict(resource_map._parsed_resources)
    for resource_type in NETWORK_LEFTOVERS:
        for logical_id, resource in parsed.items():
            spec = resource_map._resource_json_map.get(logical_id) or {}
            if spec.get("Type") != resource_type or resource is None or isinstance(resource,
                                                                                     str):
                continue
            try:
                if resource_type == "AWS::EC2::VPCEndpoint":
                    ec2.delete_vpc_endpoints([resource.id])
                elif resource_type == "AWS::EC2::NatGateway":
                    ec2.nat_gateways.pop(resource.id, None)
                elif resource_type == "AWS::EC2::EIP":
                    ec2.release_address(allocation_id=resource.allocation_id)
                elif resource_type == "AWS::EC2::SubnetRouteTableAssociation":
                    ec2.disassociate_route_table(resource.physical_resource_id)
                elif resource_type == "AWS::EC2::RouteTable":
                    ec2.delete_route_table(resource.id)
                elif resource_type == "AWS::EC2::VPCGatewayAttachment":
                    props = clean_json(spec.get("Properties") or {}, resource_map)
                    ec2.detach_internet_gateway(props["InternetGatewayId"], props["VpcId"])
                else:
                    ec2.delete_internet_gateway(resource.id)
            except Exception as exc:  # noqa: BLE001 - moto's own delete reports what is left
                log.debug("could not delete %s %s: %s", resource_type, logical_id, exc)


def _network_first(delete: Any) -> Any:
    @functools.wraps(delete)
    def call(self: Any) -> None:
        _delete_network(self)
        delete(self)

    setattr(call, _MARK, True)
    return call


def _physical_id(resource: Any) -> str:
    try:
        return str(resource.physical_resource_id)
    except Exception:  # noqa: BLE001 - some moto models have no physical id
        return ""


def _with_events(create: Any) -> Any:
    @functools.wraps(create)
    def call(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
             account_id: str, region_name: str) -> Any:
        condition = resource_json.get("Condition")
        if condition and not resources_map.lazy_condition_map[condition]:
            return create(logical_id, resource_json, resources_map, account_id, region_name)
        stack = _stack_of(account_id, region_name, resources_map.stack_id)
        resource_type = str(resource_json.get("Type", ""))
        if stack is not None:
            _event(stack, logical_id, None, resource_type, "CREATE_IN_PROGRESS")
        try:
            resource = create(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            if stack is not None:
                stack.gameday_failed = (logical_id, _reason(exc))
                _event(stack, logical_id, None, resource_type, "CREATE_FAILED", _reason(exc))
            raise
        if resource is not None:
            _apply_tags(resource_type, resource, resource_json, resources_map, account_id,
                        region_name)
        if stack is not None and resource is not None:
            _event(stack, logical_id, _physical_id(resource), resource_type, "CREATE_COMPLETE")
        return resource

    setattr(call, _MARK, True)
    return call


def _outputs_after_apply(apply: Any) -> Any:
    @functools.wraps(apply)
    def call(self: Any) -> None:
        apply(self)
        self.stack.template = self.template
        self.stack.template_dict = self.template_dict
        self.stack.output_map = self.stack._create_output_map()

    setattr(call, _MARK, True)
    return call


def _rollback_on_failure(execute: Any) -> Any:
    @functools.wraps(execute)
    def call(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)  # ValidationError if unknown
        stack = self.stacks[change_set.stack_id]
        stack.__dict__.pop("gameday_failed", None)
        try:
            return execute(self, change_set_name, stack_name)
        except Exception as exc:  # noqa: BLE001 - AWS reports it as stack events, not an error
            logical_id, reason = getattr(stack, "gameday_failed", ("", _reason(exc)))
            failed = f"The following resource(s) failed to create: [{logical_id}]. "
            change_set.execution_status = "EXECUTE_FAILED"
            stack_type = "AWS::CloudFormation::Stack"
            if change_set.change_set_type == "CREATE":
                _event(stack, stack.name, stack.stack_id, stack_type, "ROLLBACK_IN_PROGRESS",
                       failed + "Rollback requested by user.")
                try:
                    stack.resource_map.delete()
                except Exception as cleanup:  # noqa: BLE001 - report, as AWS would
                    log.warning("rollback of %s left resources: %s", stack.name, cleanup)
                _event(stack, stack.name, stack.stack_id, stack_type, "ROLLBACK_COMPLETE")
                stack.status = "ROLLBACK_COMPLETE"
            else:
                _event(stack, stack.name, stack.stack_id, stack_type,
                       "UPDATE_ROLLBACK_IN_PROGRESS", failed + reason)
                _event(stack, stack.name, stack.stack_id, stack_type,
                       "UPDATE_ROLLBACK_COMPLETE")
                stack.status = "UPDATE_ROLLBACK_COMPLETE"
            log.info("change set %s failed on %s (%s): %s", change_set_name, stack.name,
                     logical_id, reason)
            return None

    setattr(call, _MARK, True)
    return call


def install() -> None:
    """Apply the fixes to moto's CloudFormation (once; idempotent)."""
    from moto.cloudformation import models, parsing

    with _lock:
        targets = [
            (parsing, "parse_and_create_resource", _with_events),
            (models.ChangeSet, "apply", _outputs_after_apply),
            (models.CloudFormationBackend, "execute_change_set", _rollback_on_failure),
            (parsing.ResourceMap, "delete", _network_first),
        ]
        for owner, name, wrap in targets:
            current = getattr(owner, name, None)
            if current is None:
                raise MotoHookNotFound(f"moto's {owner.__name__}.{name} is gone: review "
                                       "local_stack/moto_cloudformation_fixes.py")
            if getattr(current, _MARK, False):
                continue
            _originals[f"{owner.__name__}.{name}"] = current
            setattr(owner, name, wrap(current))
    log.debug("moto CloudFormation: outputs after change sets, resource events, rollback")


def uninstall() -> None:
    """Undo install() (tests use it for the plain-moto negative controls)."""
    from moto.cloudformation import models, parsing

    with _lock:
        owners = {"parsing": parsing, "ChangeSet": models.ChangeSet,
                  "CloudFormationBackend": models.CloudFormationBackend,
                  "ResourceMap": parsing.ResourceMap}
        for key, original in list(_originals.items()):
            owner_name, name = key.rsplit(".", 1)
            owner = parsing if owner_name == parsing.__name__ else owners[owner_name]
            setattr(owner, name, original)
            del _originals[key]
