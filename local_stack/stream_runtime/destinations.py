"""Sending the OnFailure invocation record of a discarded batch to its destination.

An event source mapping for DynamoDB Streams accepts a standard SQS queue or SNS topic as the
OnFailure destination (``DestinationConfig.OnFailure.Destination``); the message body is the
JSON invocation record built by ``semantics.on_failure_record``. The destination gets metadata
only (shard, sequence range, condition), not the records themselves, as on AWS.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3 client


class OnFailureSender:
    def __init__(self, client_factory: ClientFactory) -> None:
        self._factory = client_factory
        self._clients: dict[tuple[str, str], Any] = {}
        self._queue_urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self._factory(service, region)
            return self._clients[key]

    def send(self, destination_arn: str, record: dict[str, Any]) -> None:
        """Deliver one invocation record; raises when the destination refuses it."""
        parts = destination_arn.split(":")
        if len(parts) < 6:
            raise ValueError(f"not an ARN: {destination_arn!r}")
        service, region, account, name = parts[2], parts[3], parts[4], parts[5]
        body = json.dumps(record)
        if service == "sqs":
            sqs = self._client("sqs", region)
            url = self._queue_urls.get(destination_arn)
            if url is None:
                url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
                    "QueueUrl"]
                self._queue_urls[destination_arn] = url
            sqs.send_message(QueueUrl=url, MessageBody=body)
        elif service == "sns":
            self._client("sns", region).publish(TopicArn=destination_arn, Message=body)
        else:
            raise ValueError(f"unsupported OnFailure destination {destination_arn!r} "
                             "(DynamoDB stream mappings take an SQS queue or SNS topic)")
