"""`gameday aws deploy|status|destroy`: the shop stack through CloudFormation change sets.

deploy:  the account check is done by the caller (gameday/aws_command.py) before this runs;
         then: the artifact bucket (created and tagged when missing), the Lambda package and
         the templates uploaded under ``<stack>/`` (content-addressed keys), a change set
         (CREATE or UPDATE) described change by change, executed, and followed event by event
         (deploy.aws.events); a failed resource is named with its reason and the command fails.
         A new stack's catalog is seeded (reference_app.seed) unless ``products`` is 0.
status:  the stack's status, its endpoints catalog (deploy.aws.catalog) and its ECS services'
         running/desired task counts.
destroy: DeleteStack, followed to the end, then the uploaded objects under ``<stack>/``.

Every function takes a boto3 ``Session`` (its region is the stack's) and an optional
``endpoint_url`` (tests: moto), and writes progress through ``say``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deploy.aws import catalog, package, tags, template
from deploy.aws.events import StackWatcher

Say = Callable[[str], None]


class DeployError(RuntimeError):
    """The operation did not succeed; the message says what failed (already printed in part)."""


class BadRequest(DeployError):
    """The request cannot work as given (e.g. a new stack without an image)."""


class NoStack(LookupError):
    """There is no such stack."""


@dataclass
class DeployRequest:
    """What `gameday aws deploy` was asked to do."""

    stack: str
    image: str | None = None
    bucket: str | None = None
    locust_workers: int = 0
    task_count: int | None = None
    allowed_cidr: str | None = None
    role_arn: str | None = None
    products: int = 120
    seed: int = 42
    with_libraries: bool = True
    parameters: dict[str, str] = field(default_factory=dict)  # raw overrides (--parameter)


class Aws:
    """Clients of one session (and endpoint, for tests)."""

    def __init__(self, session: Any, endpoint_url: str | None = None) -> None:
        self.session = session
        self.endpoint_url = endpoint_url
        self.region = session.region_name
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service,
                                                         endpoint_url=self.endpoint_url)
        return self._clients[service]


def default_bucket(account: str, region: str) -> str:
    """The artifact bucket of an account and region (one for every stack there)."""
    return f"gameday-artifacts-{account}-{region}"


def _template_url(bucket: str, region: str, key: str) -> str:
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def _ensure_bucket(aws: Aws, bucket: str, say: Say) -> None:
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) not in {"404", "NoSuchBucket",
                                                                 "NotFound"}:
            raise DeployError(f"artifact bucket {bucket}: {exc}") from exc
    say(f"creating artifact bucket {bucket}")
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if aws.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
        {"Key": tags.MANAGED_TAG, "Value": "true"},
        {"Key": tags.COMPONENT_TAG, "Value": "artifacts"}]})


def _upload(aws: Aws, bucket: str, key: str, data: bytes, say: Say) -> None:
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=key)
        say(f"s3://{bucket}/{key} already uploaded")
        return
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) not in {"404", "NoSuchKey",
                                                                 "NotFound"}:
            raise
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    say(f"uploaded s3://{bucket}/{key} ({len(data) / 1024:.0f} KiB)")


def find_stack(aws: Aws, stack: str) -> dict[str, Any] | None:
    """DescribeStacks of `stack`, or None when there is none."""
    try:
        return catalog.describe(aws.client("cloudformation"), stack)
    except catalog.StackNotFound:
        return None


def _parameters(request: DeployRequest, existing: dict[str, Any] | None, bucket: str,
                code_key: str, locust_url: str) -> list[dict[str, Any]]:
    previous = {p["ParameterKey"] for p in (existing or {}).get("Parameters", [])}
    values: dict[str, str | None] = {
        "ImageUri": request.image,
        "CodeBucket": bucket,
        "CodeKey": code_key,
        "TokenSecret": None if "TokenSecret" in previous else secrets.token_urlsafe(48),
        "LocustWorkers": str(request.locust_workers),
        "LocustTemplateUrl": locust_url if request.locust_workers else "",
        "ServiceTaskCount": None if request.task_count is None else str(request.task_count),
        "AllowedCidr": request.allowed_cidr,
    }
    values.update(request.parameters)
    out: list[dict[str, Any]] = []
    for key, value in values.items():
        if value is not None:
            out.append({"ParameterKey": key, "ParameterValue": value})
        elif key in previous:
            out.append({"ParameterKey": key, "UsePreviousValue": True})
    return out


def _wait_change_set(cf: Any, change_set_id: str, timeout_s: float = 600.0
                     ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        description = cf.describe_change_set(ChangeSetName=change_set_id)
        if description["Status"] in {"CREATE_COMPLETE", "FAILED"}:
            return dict(description)
        if time.monotonic() > deadline:
            raise DeployError(f"change set {change_set_id} still {description['Status']}")
        time.sleep(2.0)


def change_lines(description: Mapping[str, Any]) -> list[str]:
    """What the change set will do, one line per resource."""
    lines = []
    for change in description.get("Changes", []):
        rc = change.get("ResourceChange", {})
        replace = rc.get("Replacement")
        suffix = "  (replacement)" if replace == "True" else (
            "  (may be replaced)" if replace == "Conditional" else "")
        lines.append(f"  {rc.get('Action', ''):<8} {rc.get('ResourceType', ''):<42} "
                     f"{rc.get('LogicalResourceId', '')}{suffix}")
    return lines


def plan(aws: Aws, request: DeployRequest, account: str, say: Say) -> None:
    """--dry: what deploy would do, from read-only calls (DescribeStacks) only."""
    existing = find_stack(aws, request.stack)
    bucket = request.bucket or default_bucket(account, aws.region)
    import yaml

    body = yaml.safe_load(template.TEMPLATE_PATH.read_text())
    counts: dict[str, int] = {}
    for resource in body["Resources"].values():
        counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    kind = "UPDATE" if existing else "CREATE"
    say(f"plan for stack {request.stack} in account {account}, {aws.region} (nothing is "
        "changed by --dry):")
    say(f"  s3: bucket {bucket} (created if missing); upload the Lambda package and the "
        f"templates under {request.stack}/")
    say(f"  cloudformation: CreateChangeSet ({kind}), DescribeChangeSet, ExecuteChangeSet, "
        "then DescribeStackEvents/DescribeStacks until done")
    if not existing and request.products:
        say(f"  dynamodb: seed {request.products} products (seed {request.seed})")
    say(f"  the template has {len(body['Resources'])} resources:")
    for resource_type in sorted(counts):
        say(f"    {counts[resource_type]:>3} {resource_type}")


def deploy(aws: Aws, request: DeployRequest, account: str, say: Say) -> dict[str, Any]:
    """Create or update the stack; returns its endpoints catalog. DeployError on failure."""
    cf = aws.client("cloudformation")
    existing = find_stack(aws, request.stack)
    if existing and existing["StackStatus"] == "ROLLBACK_COMPLETE":
        raise DeployError(f"stack {request.stack} is ROLLBACK_COMPLETE (its creation failed) "
                          "and cannot be updated: `gameday aws destroy` it first")
    if existing and existing["StackStatus"].endswith("_IN_PROGRESS") and (
            existing["StackStatus"] != "REVIEW_IN_PROGRESS"):
        raise DeployError(f"stack {request.stack} is busy ({existing['StackStatus']})")
    if existing and existing["StackStatus"] == "REVIEW_IN_PROGRESS":
        existing = None  # only a change set was ever created: still a CREATE
    if existing is None and not request.image and "ImageUri" not in request.parameters:
        raise BadRequest("a new stack needs --image URI (the Dockerfile's image, e.g. in ECR)")
    bucket = request.bucket or default_bucket(account, aws.region)
    _ensure_bucket(aws, bucket, say)
    say("packing the Lambda code" + (" and its libraries" if request.with_libraries else ""))
    code = package.build_zip(with_libraries=request.with_libraries)
    code_key = f"{request.stack}/lambda-{package.digest(code)}.zip"
    _upload(aws, bucket, code_key, code, say)
    urls = {}
    for path in (template.TEMPLATE_PATH, template.LOCUST_TEMPLATE_PATH):
        body = path.read_bytes()  # the committed files (tests/aws: equal to the generated)
        key = f"{request.stack}/{path.stem}-{package.digest(body)}.yaml"
        _upload(aws, bucket, key, body, say)
        urls[path.stem] = _template_url(bucket, aws.region, key)

    kind = "UPDATE" if existing else "CREATE"
    name = f"gameday-{time.strftime('%Y%m%d-%H%M%S')}"
    kwargs: dict[str, Any] = {
        "StackName": request.stack, "ChangeSetName": name, "ChangeSetType": kind,
        "TemplateURL": urls["shop"],
        "Parameters": _parameters(request, existing, bucket, code_key, urls["locust"]),
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        "Tags": [{"Key": tags.STACK_TAG, "Value": request.stack},
                 {"Key": tags.MANAGED_TAG, "Value": "true"}],
        "Description": "gameday aws deploy",
    }
    if request.role_arn:
        kwargs["RoleARN"] = request.role_arn
    watcher = StackWatcher(cf, request.stack, say) if existing else None
    change_set = cf.create_change_set(**kwargs)
    description = _wait_change_set(cf, change_set["Id"])
    if description["Status"] == "FAILED":
        reason = str(description.get("StatusReason", ""))
        cf.delete_change_set(ChangeSetName=change_set["Id"])
        if "didn't contain changes" in reason or "No updates" in reason:
            say(f"stack {request.stack} is up to date: nothing to change")
            return catalog.endpoints(cf, request.stack)
        raise DeployError(f"change set failed: {reason}")
    say(f"change set {name} ({kind}) for stack {request.stack}:")
    for line in change_lines(description):
        say(line)
    if watcher is None:
        watcher = StackWatcher(cf, request.stack, say)
    cf.execute_change_set(ChangeSetName=change_set["Id"])
    say(f"executing; following stack {request.stack}'s events")
    outcome = watcher.wait(stack_id=change_set["StackId"])
    if not outcome.ok:
        for failure in outcome.failures:
            say(f"FAILED: {failure}")
        raise DeployError(
            f"stack {request.stack} ended {outcome.status}"
            + (f": {outcome.failures[0]}" if outcome.failures else ""))
    say(f"stack {request.stack}: {outcome.status}")
    endpoints = catalog.endpoints(cf, request.stack)
    if kind == "CREATE" and request.products:
        _seed(aws, request, say)
    return endpoints


def _seed(aws: Aws, request: DeployRequest, say: Say) -> None:
    from reference_app.config import Settings
    from reference_app.seed import seed_catalog

    settings = Settings(service_name="gameday-aws-deploy", aws_endpoint_url=aws.endpoint_url,
                        aws_region=aws.region, tables=template.TABLES)
    say(f"seeding {request.products} products (seed {request.seed})")
    seed_catalog(settings, seed=request.seed, products=request.products)


def status(aws: Aws, stack: str, say: Say) -> dict[str, Any]:
    """Print the stack's status, catalog and services; returns the DescribeStacks entry.
    NoStack when there is none."""
    description = find_stack(aws, stack)
    if description is None:
        raise NoStack(f"no stack {stack!r} in {aws.region}")
    say(f"stack {stack}: {description['StackStatus']}"
        + (f" ({description['StackStatusReason']})" if description.get("StackStatusReason")
           else ""))
    try:
        endpoints = catalog.endpoints(aws.client("cloudformation"), stack)
    except KeyError as exc:
        say(f"  no endpoints catalog: {exc}")
        return description
    say(f"  storefront  {endpoints['urls']['storefront']}")
    if endpoints["urls"].get("locust"):
        say(f"  locust      {endpoints['urls']['locust']}")
    ecs = aws.client("ecs")
    names = list(endpoints["services"].values())
    for service in ecs.describe_services(cluster=endpoints["cluster"],
                                         services=names).get("services", []):
        say(f"  service {service['serviceName']:<18} running {service.get('runningCount', 0)}"
            f" / desired {service.get('desiredCount', 0)}")
    say(f"  functions   {', '.join(endpoints['functions'])}")
    say(f"  tables      {', '.join(endpoints['tables'].values())}")
    say(f"  alarms      {endpoints['alarm_prefix']}*   faults  "
        f"{endpoints['fault_parameter_prefix']}")
    return description


def destroy(aws: Aws, stack: str, say: Say) -> bool:
    """Delete the stack and its uploaded objects; False when there was no stack.
    DeployError when the deletion failed."""
    cf = aws.client("cloudformation")
    description = find_stack(aws, stack)
    if description is None:
        say(f"no stack {stack!r} in {aws.region}: nothing to destroy")
        return False
    parameters = {p["ParameterKey"]: p.get("ParameterValue")
                  for p in description.get("Parameters", [])}
    watcher = StackWatcher(cf, stack, say)
    cf.delete_stack(StackName=stack)
    say(f"deleting stack {stack}; following its events")
    outcome = watcher.wait(stack_id=description["StackId"])
    if not outcome.ok:
        for failure in outcome.failures:
            say(f"FAILED: {failure}")
        raise DeployError(f"stack {stack} ended {outcome.status}")
    say(f"stack {stack}: deleted")
    bucket = parameters.get("CodeBucket")
    if bucket:
        _delete_uploads(aws, bucket, f"{stack}/", say)
    return True


def _delete_uploads(aws: Aws, bucket: str, prefix: str, say: Say) -> None:
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")
    keys: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    try:
        while True:
            page = s3.list_objects_v2(**kwargs)
            keys += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                break
            kwargs["ContinuationToken"] = page["NextContinuationToken"]
    except ClientError as exc:
        say(f"could not list s3://{bucket}/{prefix}: {exc}")
        return
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})
    say(f"deleted {len(keys)} uploaded object(s) under s3://{bucket}/{prefix}")
