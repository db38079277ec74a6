"""The tags on every resource of a shop stack: how the AWS fault backends and probes find them.

Every resource type that takes tags carries three (tests/aws/test_template.py checks it against
cfn-lint's resource schemas):

- ``gameday:stack`` = the CloudFormation stack name,
- ``gameday:managed`` = ``true``,
- ``gameday:component`` = the resource's role: a service (``storefront``, ``payments``,
  ``reviews``), a function name (``shop-inventory``, ...), a table name (``shop-orders``, ...),
  or one of the other names in ``COMPONENTS``.

Only resources carrying ``gameday:stack`` = the stack named on the command line may ever be
targeted (docs/aws.md, "Interface for fault backends").
"""

from __future__ import annotations

from typing import Any

STACK_TAG = "gameday:stack"
MANAGED_TAG = "gameday:managed"
COMPONENT_TAG = "gameday:component"

# Components that are neither a service, a function nor a table (those are named by their own
# names, see deploy.aws.template).
ON_FAILURE_QUEUE = "on-failure-queue"
SECOND_LOOK_QUEUE = "second-look-queue"
CACHE = "cache"
ALB = "alb"
INTERNAL_ALB = "internal-alb"
CLUSTER = "cluster"
NETWORK = "network"
LOCUST_MASTER = "locust-master"
LOCUST_WORKER = "locust-worker"
LOCUST = "locust"
ALARM = "alarm"
LOGS = "logs"
IAM = "iam"


def tag_list(component: str, stack: Any = None) -> list[dict[str, Any]]:
    """The three tags as CloudFormation's ``[{Key, Value}]`` list; the stack name is
    ``{"Ref": "AWS::StackName"}`` unless given."""
    return [
        {"Key": STACK_TAG, "Value": stack if stack is not None else {"Ref": "AWS::StackName"}},
        {"Key": MANAGED_TAG, "Value": "true"},
        {"Key": COMPONENT_TAG, "Value": component},
    ]


def tag_map(component: str, stack: Any = None) -> dict[str, Any]:
    """The three tags as a ``{key: value}`` map (the shape some resource types take)."""
    return {item["Key"]: item["Value"] for item in tag_list(component, stack)}
