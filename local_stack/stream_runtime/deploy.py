"""Registering functions and DynamoDB-stream event source mappings in moto for the runtime.

``deploy_function`` creates (or updates) a Lambda function whose ``Handler`` names Python code
importable by the runtime (the package is a placeholder zip: the code runs from the working
tree), with its environment, timeout, memory and reserved concurrency; it creates the IAM role
moto insists on. ``create_mapping`` creates (or updates, so it is idempotent per function and
stream) the event source mapping, after checking every setting against the ranges AWS accepts,
because moto accepts anything and a stack that works locally must deploy on AWS too.
``strict=False`` lets tests use values AWS would refuse (e.g. MaximumRecordAgeInSeconds=2).

moto never runs these functions: ``local_stack.aws_server`` switches moto's stream → Lambda
invocation off and ``local_stack.stream_runtime`` does the invoking.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Mapping
from typing import Any

import boto3

from local_stack.stream_runtime.esm_metrics import METRICS_CONFIG_GROUPS

log = logging.getLogger(__name__)

ROLE_NAME = "local-stream-runtime"
_ASSUME_ROLE = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})

ESM_KEYS = {
    "BatchSize", "MaximumBatchingWindowInSeconds", "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "DestinationConfig",
    "FunctionResponseTypes", "ParallelizationFactor", "StartingPosition", "Enabled",
    "TumblingWindowInSeconds", "FilterCriteria", "MetricsConfig",
}


def _placeholder_zip(handler: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", f"Runs from the working tree: handler {handler}\n")
    return buf.getvalue()


def _client_like(client: Any, service: str) -> Any:
    meta = client.meta
    return boto3.client(service, endpoint_url=meta.endpoint_url, region_name=meta.region_name)


def ensure_role(iam_client: Any, name: str = ROLE_NAME) -> str:
    """ARN of an IAM role Lambda can assume (created when missing)."""
    try:
        return str(iam_client.get_role(RoleName=name)["Role"]["Arn"])
    except iam_client.exceptions.NoSuchEntityException:
        return str(iam_client.create_role(RoleName=name,
                                          AssumeRolePolicyDocument=_ASSUME_ROLE)["Role"]["Arn"])


def deploy_function(
    lambda_client: Any,
    name: str,
    handler: str,
    env: Mapping[str, str] | None = None,
    reserved_concurrency: int | None = None,
    *,
    timeout_s: int = 30,
    memory_mb: int = 128,
    role_arn: str | None = None,
    iam_client: Any = None,
    runtime: str = "python3.11",
) -> dict[str, Any]:
    """Create or update function `name`; returns its configuration.

    ``reserved_concurrency``: None = unreserved (any reservation is removed), 0 = every
    invocation throttled, n = at most n concurrent invocations.
    """
    if reserved_concurrency is not None and reserved_concurrency < 0:
        raise ValueError("reserved_concurrency must be >= 0 or None")
    if not 1 <= timeout_s <= 900:
        raise ValueError("timeout_s must be between 1 and 900 (AWS's range)")
    if not 128 <= memory_mb <= 10240:
        raise ValueError("memory_mb must be between 128 and 10240 (AWS's range)")
    role = role_arn or ensure_role(iam_client or _client_like(lambda_client, "iam"))
    variables = {str(k): str(v) for k, v in (env or {}).items()}
    try:
        lambda_client.get_function(FunctionName=name)
        exists = True
    except lambda_client.exceptions.ResourceNotFoundException:
        exists = False
    if exists:
        config = lambda_client.update_function_configuration(
            FunctionName=name, Handler=handler, Environment={"Variables": variables},
            Timeout=timeout_s, MemorySize=memory_mb, Role=role,
        )
    else:
        config = lambda_client.create_function(
            FunctionName=name, Runtime=runtime, Role=role, Handler=handler,
            Code={"ZipFile": _placeholder_zip(handler)}, Environment={"Variables": variables},
            Timeout=timeout_s, MemorySize=memory_mb, Publish=False,
        )
    if reserved_concurrency is None:
        lambda_client.delete_function_concurrency(FunctionName=name)
    else:
        lambda_client.put_function_concurrency(FunctionName=name,
                                               ReservedConcurrentExecutions=reserved_concurrency)
    log.info("function %s deployed (handler %s, reserved concurrency %s)", name, handler,
             reserved_concurrency)
    config.pop("ResponseMetadata", None)
    return dict(config)


def validate_esm_settings(settings: Mapping[str, Any]) -> None:
    """Raise ValueError for a DynamoDB-stream ESM setting AWS would reject."""
    unknown = set(settings) - ESM_KEYS
    if unknown:
        raise ValueError(f"unknown event source mapping settings: {sorted(unknown)}")

    def check(key: str, ok: bool, rule: str) -> None:
        if key in settings and not ok:
            raise ValueError(f"{key}={settings[key]!r}: {rule}")

    get = settings.get
    check("BatchSize", isinstance(get("BatchSize"), int) and 1 <= get("BatchSize") <= 10000,
          "1..10000")
    check("MaximumBatchingWindowInSeconds",
          isinstance(get("MaximumBatchingWindowInSeconds"), int)
          and 0 <= get("MaximumBatchingWindowInSeconds") <= 300, "0..300")
    check("MaximumRetryAttempts", isinstance(get("MaximumRetryAttempts"), int)
          and -1 <= get("MaximumRetryAttempts") <= 10000, "-1 (infinite) or 0..10000")
    age = get("MaximumRecordAgeInSeconds")
    check("MaximumRecordAgeInSeconds", isinstance(age, int) and (age == -1 or 60 <= age <= 604800),
          "-1 (infinite) or 60..604800")
    check("ParallelizationFactor", isinstance(get("ParallelizationFactor"), int)
          and 1 <= get("ParallelizationFactor") <= 10, "1..10")
    check("StartingPosition", get("StartingPosition") in ("TRIM_HORIZON", "LATEST"),
          "TRIM_HORIZON or LATEST (AT_TIMESTAMP is Kinesis only)")
    check("FunctionResponseTypes", isinstance(get("FunctionResponseTypes"), list)
          and set(get("FunctionResponseTypes") or []) <= {"ReportBatchItemFailures"},
          "a list of ReportBatchItemFailures")
    metrics = get("MetricsConfig")
    check("MetricsConfig", isinstance(metrics, dict) and set(metrics) <= {"Metrics"}
          and isinstance(metrics.get("Metrics", []), list)
          and set(metrics.get("Metrics") or []) <= set(METRICS_CONFIG_GROUPS),
          f"{{\"Metrics\": [...]}} of {list(METRICS_CONFIG_GROUPS)} (ErrorCount and "
          "KafkaMetrics are Kafka groups)")
    check("TumblingWindowInSeconds", False, "tumbling windows are not implemented locally")
    check("FilterCriteria", False, "event filtering is not implemented locally")
    destination = ((get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if "DestinationConfig" in settings and destination:
        check("DestinationConfig", destination.startswith(("arn:aws:sqs:", "arn:aws:sns:")),
              "OnFailure of a DynamoDB stream mapping must be an SQS queue or SNS topic ARN")


def create_mapping(
    lambda_client: Any,
    function_name: str,
    stream_arn: str,
    *,
    strict: bool = True,
    **esm_settings: Any,
) -> dict[str, Any]:
    """Create the mapping, or update the existing one for this function and stream.

    ``esm_settings`` are CreateEventSourceMapping parameters (``BatchSize=10``,
    ``BisectBatchOnFunctionError=True``, ``DestinationConfig={"OnFailure": {"Destination":
    queue_arn}}``, ...). ``StartingPosition`` defaults to TRIM_HORIZON.
    """
    settings = dict(esm_settings)
    settings.setdefault("StartingPosition", "TRIM_HORIZON")
    if strict:
        validate_esm_settings(settings)
    elif set(settings) - ESM_KEYS:
        unknown = sorted(set(settings) - ESM_KEYS)
        raise ValueError(f"unknown event source mapping settings: {unknown}")
    existing = [
        m for m in _list_mappings(lambda_client, function_name)
        if m.get("EventSourceArn") == stream_arn
    ]
    if existing:
        update = {k: v for k, v in settings.items() if k != "StartingPosition"}
        result = lambda_client.update_event_source_mapping(UUID=existing[0]["UUID"],
                                                           FunctionName=function_name, **update)
        log.info("event source mapping %s updated: %s ← %s", result["UUID"], function_name,
                 stream_arn)
    else:
        result = lambda_client.create_event_source_mapping(
            FunctionName=function_name, EventSourceArn=stream_arn, **settings)
        log.info("event source mapping %s created: %s ← %s", result["UUID"], function_name,
                 stream_arn)
    result.pop("ResponseMetadata", None)
    return dict(result)


def _list_mappings(lambda_client: Any, function_name: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"FunctionName": function_name}
    while True:
        page = lambda_client.list_event_source_mappings(**kwargs)
        out += page.get("EventSourceMappings", [])
        if not page.get("NextMarker"):
            return out
        kwargs["Marker"] = page["NextMarker"]


def stream_arn_of(dynamodb_client: Any, table_name: str) -> str:
    """The table's latest stream ARN (the table must have a stream)."""
    table = dynamodb_client.describe_table(TableName=table_name)["Table"]
    arn = table.get("LatestStreamArn")
    if not arn:
        raise ValueError(f"table {table_name} has no stream enabled")
    return str(arn)
