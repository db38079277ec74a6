"""The endpoints catalog of a deployed shop, read from its CloudFormation stack's outputs.

The template (deploy.aws.template) writes these outputs; ``endpoints(cloudformation, stack)``
turns them into the one dict the aws target's fault backends, probes and
``gameday run --target aws`` use, so nothing else parses output keys:

    {"target": "aws", "stack": "gameday-shop", "stack_id": "arn:...", "region": "eu-west-1",
     "account": "123456789012",
     "urls": {"storefront": "http://...elb.amazonaws.com", "payments": "http://internal-...:8081",
              "reviews": "http://internal-...:8082", "locust": "http://...:8089" or None},
     "cluster": "gameday-shop-cluster",
     "services": {"storefront": "shop-storefront", "payments": ..., "reviews": ...},
     "functions": {"shop-inventory": "shop-inventory", ...},     # every function, by name
     "stream_functions": ["shop-inventory", ...],                 # the stream consumers
     "tables": {"orders": "shop-orders", ...},                    # TableNames attribute -> name
     "queues": {"on_failure": URL, "second_look": URL},
     "alarm_prefix": "shop-", "fault_parameter_prefix": "/gameday/faults/",
     "cache": "host:port" or None,
     "undo_role_arn": "arn:aws:iam::...:role/..." (chaos/faults/aws/scheduled_undo.py),
     "tags": {"gameday:stack": "gameday-shop", "gameday:managed": "true"}}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from deploy.aws.tags import MANAGED_TAG, STACK_TAG

# What the template deploys, by the names the catalog gives (deploy.aws.template checks its
# services against SERVICE_NAMES)
SERVICE_NAMES = ("storefront", "payments", "reviews")
TABLE_ATTRIBUTES = ("products", "keywords", "reviews", "weekly", "carts", "orders", "payments")

STOREFRONT_URL = "StorefrontUrl"
PAYMENTS_URL = "PaymentsUrl"
REVIEWS_URL = "ReviewsUrl"
LOCUST_URL = "LocustUrl"
CLUSTER_NAME = "ClusterName"
ON_FAILURE_QUEUE_URL = "OnFailureQueueUrl"
SECOND_LOOK_QUEUE_URL = "SecondLookQueueUrl"
ALARM_NAME_PREFIX = "AlarmNamePrefix"
FAULT_PARAMETER_PREFIX = "FaultParameterPrefix"
CACHE_ENDPOINT = "CacheEndpoint"
STREAM_FUNCTIONS = "StreamFunctions"  # comma-separated
UNDO_ROLE_ARN = "UndoRoleArn"  # the role EventBridge Scheduler assumes for a scheduled undo


def logical(*parts: str) -> str:
    """A CloudFormation-safe CamelCase id from names (``shop-order-completion`` →
    ``ShopOrderCompletion``)."""
    return "".join(word.capitalize() for part in parts
                   for word in re.split(r"[^A-Za-z0-9]+", part) if word)


def service_output(service: str) -> str:
    """Output key of an ECS service's name (``storefront`` → ``StorefrontService``)."""
    return logical(service, "service")


def function_output(function: str) -> str:
    """Output key of a Lambda function's name (``shop-inventory`` → ``ShopInventoryFunction``)."""
    return logical(function, "function")


def table_output(table_attribute: str) -> str:
    """Output key of a table's name, by its ``TableNames`` attribute (``orders`` →
    ``OrdersTable``)."""
    return logical(table_attribute, "table")


class StackNotFound(LookupError):
    """No such stack (or it was deleted)."""


def outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """The stack's outputs as ``{OutputKey: OutputValue}``; StackNotFound when there is none."""
    description = describe(cloudformation, stack)
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs") or []}


def describe(cloudformation: Any, stack: str) -> dict[str, Any]:
    """DescribeStacks for one stack; StackNotFound when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            raise StackNotFound(f"no stack {stack!r}") from exc
        raise
    if not stacks or stacks[0].get("StackStatus") == "DELETE_COMPLETE":
        raise StackNotFound(f"no stack {stack!r}")
    return dict(stacks[0])


def catalog_from_outputs(stack: str, values: Mapping[str, str], *, stack_id: str = "",
                         services: tuple[str, ...] = ("storefront", "payments", "reviews"),
                         tables: tuple[str, ...] = ()) -> dict[str, Any]:
    """The catalog dict from output values (see the module docstring)."""
    def need(key: str) -> str:
        if key not in values:
            raise KeyError(f"stack {stack!r} has no output {key!r}: not a shop stack, or one "
                           "deployed from an older template")
        return values[key]

    suffix = "Function"
    functions = {v: v for k, v in values.items() if k.endswith(suffix) and k != suffix}
    table_names = {attr: need(table_output(attr)) for attr in tables}
    arn = stack_id.split(":")
    return {
        "target": "aws",
        "stack": stack,
        "stack_id": stack_id,
        "region": arn[3] if len(arn) > 4 else "",
        "account": arn[4] if len(arn) > 4 else "",
        "urls": {"storefront": need(STOREFRONT_URL), "payments": values.get(PAYMENTS_URL),
                 "reviews": values.get(REVIEWS_URL), "locust": values.get(LOCUST_URL)},
        "cluster": need(CLUSTER_NAME),
        "services": {s: need(service_output(s)) for s in services},
        "functions": functions,
        "stream_functions": [f for f in need(STREAM_FUNCTIONS).split(",") if f],
        "tables": table_names,
        "queues": {"on_failure": need(ON_FAILURE_QUEUE_URL),
                   "second_look": need(SECOND_LOOK_QUEUE_URL)},
        "alarm_prefix": need(ALARM_NAME_PREFIX),
        "fault_parameter_prefix": need(FAULT_PARAMETER_PREFIX),
        "cache": values.get(CACHE_ENDPOINT),
        "undo_role_arn": values.get(UNDO_ROLE_ARN),
        "tags": {STACK_TAG: stack, MANAGED_TAG: "true"},
    }


def endpoints(cloudformation: Any, stack: str) -> dict[str, Any]:
    """The endpoints catalog of the deployed stack `stack` (see the module docstring)."""
    description = describe(cloudformation, stack)
    values = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs") or []}
    return catalog_from_outputs(stack, values, stack_id=str(description.get("StackId", "")),
                                services=SERVICE_NAMES, tables=TABLE_ATTRIBUTES)
