"""Publish an SQS queue's depth as the ``AWS/SQS`` metric AWS would publish, for the local stack.

On AWS, SQS itself sends ``ApproximateNumberOfMessagesVisible`` (dimension ``QueueName``) to
CloudWatch every minute, and PutMetricData refuses namespaces starting with ``AWS/``. moto
publishes no SQS metrics, so the local stack calls ``publish_queue_depth`` every few seconds for
the OnFailure queue; the "DLQ not empty" alarm then works unchanged on both.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

SQS_NAMESPACE = "AWS/SQS"
MESSAGES_VISIBLE = "ApproximateNumberOfMessagesVisible"
QUEUE_NAME_DIMENSION = "QueueName"
# The queue attribute behind the metric (SQS names it without "Visible").
VISIBLE_ATTRIBUTE = "ApproximateNumberOfMessages"


def queue_name_from_url(queue_url: str) -> str:
    """The queue name: the last path segment of its URL."""
    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise ValueError(f"no queue name in {queue_url!r}")
    return name


def publish_queue_depth(sqs: Any, cloudwatch: Any, queue_url: str) -> int:
    """Read the queue's visible message count (attribute ApproximateNumberOfMessages) and put it
    as the AWS/SQS metric ApproximateNumberOfMessagesVisible; return the value published."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=[VISIBLE_ATTRIBUTE])["Attributes"]
    visible = int(attributes.get(VISIBLE_ATTRIBUTE, 0))
    cloudwatch.put_metric_data(
        Namespace=SQS_NAMESPACE,
        MetricData=[{
            "MetricName": MESSAGES_VISIBLE,
            "Dimensions": [{"Name": QUEUE_NAME_DIMENSION, "Value": queue_name_from_url(queue_url)}],
            "Timestamp": _dt.datetime.now(_dt.UTC),
            "Value": float(visible),
            "Unit": "Count",
        }],
    )
    return visible
