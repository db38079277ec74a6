"""The operator's IAM policy (deploy/aws/operator-policy.json) as data, and the two hooks that
keep it exact: what it allows, and what the code calls.

The policy is what an operator attaches to run game days: exactly the calls `gameday aws`
makes (statements whose Sid starts with ``Deploy``), plus what the aws target's fault backends
and probes make (``GameDay``: reads, the faults on resources of the shop — ECS ones only with
the ``gameday:managed`` tag —, the scheduled undos and the role they run as, FIS templates).
It does not include what CloudFormation needs to create the stack's resources: it uses the
operator's own permissions for that, or a service role passed with ``--role-arn`` (hence
``iam:PassRole`` to CloudFormation).

- ``actions(prefix)``: the actions of the statements whose Sid starts with `prefix`.
- ``called_actions(modules, services)``: the IAM actions of every boto3 operation the modules'
  source calls (a scan of their syntax tree for ``client.<operation>(...)`` and
  ``client.get_paginator("<operation>")``), so a test can compare code and policy in both
  directions.
- ``iam_action(service, operation)``: the IAM action of one boto3 operation (most are
  ``<prefix>:<OperationName>``; S3's HEAD and list calls are not).
"""

from __future__ import annotations

import ast
import inspect
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

POLICY_PATH = Path(__file__).with_name("operator-policy.json")
DEPLOY = "Deploy"

# Operations whose IAM action is not <prefix>:<OperationName>.
ACTION_OF = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
}
GAME_DAY = "GameDay"
# IAM prefixes that differ from a service's signing name.
IAM_PREFIX = {"monitoring": "cloudwatch"}
# Permissions used without a boto3 call of their own: PassRole (CloudFormation's service role;
# the scheduled undo's role), and tagging a FIS template as it is created.
IMPLIED = {DEPLOY: frozenset({"iam:PassRole"}),
           GAME_DAY: frozenset({"iam:PassRole", "fis:TagResource"})}


def load() -> dict[str, Any]:
    """The policy document."""
    return dict(json.loads(POLICY_PATH.read_text()))


def actions(prefix: str = "") -> set[str]:
    """Actions allowed by the statements whose Sid starts with `prefix` (all when empty)."""
    found: set[str] = set()
    for statement in load()["Statement"]:
        if str(statement.get("Sid", "")).startswith(prefix):
            action = statement["Action"]
            found.update([action] if isinstance(action, str) else action)
    return found


@cache
def _operations(service: str) -> dict[str, str]:
    """snake_case method name -> OperationName of a boto3 service."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


@cache
def _iam_prefix(service: str) -> str:
    """The IAM prefix of a boto3 service (its signing name, but ``cloudwatch`` for
    ``monitoring``); cached: reading a service model takes a fraction of a second."""
    import botocore.session

    prefix = botocore.session.get_session().get_service_model(service).signing_name
    return IAM_PREFIX.get(prefix, prefix)


def iam_action(service: str, operation: str) -> str:
    """The IAM action of a boto3 operation (``("s3", "HeadObject")`` → ``s3:GetObject``)."""
    prefix = _iam_prefix(service)
    return ACTION_OF.get((service, operation), f"{prefix}:{operation}")


def called_actions(modules: Iterable[ModuleType], services: Iterable[str]) -> set[str]:
    """IAM actions of the `services`' operations that the modules' source calls as methods."""
    by_method: dict[str, list[tuple[str, str]]] = {}
    for service in services:
        for method, operation in _operations(service).items():
            by_method.setdefault(method, []).append((service, operation))
    found: set[str] = set()
    for module in modules:
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method = node.func.attr
            if (method == "get_paginator" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                method = str(node.args[0].value)  # a paginated operation
            if method in by_method:
                found.update(iam_action(s, o) for s, o in by_method[method])
    return found
