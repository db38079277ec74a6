"""The stream runtime as one object: wiring, start, stop.

``StreamRuntime(endpoint_url, ...)`` builds the AWS clients (against the local endpoint), the
mapping registry, the invoker, metrics, checkpoints; ``start()`` begins consuming every
DynamoDB-stream event source mapping (or those of ``functions``); ``stop()`` stops reading,
gives in-flight invocations ``shutdown_grace_s`` and abandons the rest without checkpointing
them (so they are delivered again: at-least-once), flushes metrics and checkpoints, and leaves
no thread or worker process behind. Usable in-process (tests) or through ``__main__``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config

from local_stack.ports import check_loopback
from local_stack.stream_runtime.checkpoints import CheckpointStore
from local_stack.stream_runtime.destinations import OnFailureSender
from local_stack.stream_runtime.handlers import FunctionInvoker
from local_stack.stream_runtime.mappings import MappingRegistry
from local_stack.stream_runtime.metrics import CloudWatchEmitter, RuntimeMetrics
from local_stack.stream_runtime.poller import MappingConsumer, RuntimeOptions, Services

log = logging.getLogger(__name__)

_CLIENT_CONFIG = Config(
    retries={"max_attempts": 2, "mode": "standard"},
    connect_timeout=3, read_timeout=15, max_pool_connections=64,
)


class StreamRuntime:
    """Consume DynamoDB-stream event source mappings from the local endpoint (loopback only:
    ValueError otherwise)."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        region: str = "us-east-1",
        functions: Iterable[str] | None = None,
        options: RuntimeOptions | None = None,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
        checkpoint_file: str | Path | None = None,
        cloudwatch: bool = True,
        cloudwatch_interval_s: float = 1.0,
        task_root: str | None = None,
        function_log_dir: str | Path | None = None,
    ) -> None:
        check_loopback(urlparse(endpoint_url).hostname or "")
        check_loopback(metrics_host)
        self.endpoint_url = endpoint_url
        self.region = region
        self.options = options or RuntimeOptions()
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        self._session = boto3.session.Session(region_name=region)
        self._session_lock = threading.Lock()
        lambda_client = self._client("lambda")
        streams = self._client("dynamodbstreams")
        emitter = None
        if cloudwatch:
            cw_client = self._client("cloudwatch")
            emitter = CloudWatchEmitter(lambda: cw_client, interval_s=cloudwatch_interval_s)
        self.metrics = RuntimeMetrics(cloudwatch=emitter)
        self.registry = MappingRegistry(lambda: lambda_client, functions=functions,
                                        refresh_s=self.options.refresh_s)
        self.invoker = FunctionInvoker(task_root=task_root, log_dir=function_log_dir)
        self.checkpoints = CheckpointStore(checkpoint_file)
        self.stop_event = threading.Event()
        self.services = Services(
            registry=self.registry,
            streams=streams,
            invoker=self.invoker,
            destinations=OnFailureSender(self._client),
            metrics=self.metrics,
            checkpoints=self.checkpoints,
            options=self.options,
            stop=self.stop_event,
        )
        self.consumers: dict[str, MappingConsumer] = {}
        self._supervisor: threading.Thread | None = None
        self._started = False
        self._stopped = False

    def _client(self, service: str, region: str | None = None) -> Any:
        with self._session_lock:  # boto3 sessions are not thread-safe; clients are
            return self._session.client(service, endpoint_url=self.endpoint_url,
                                        region_name=region or self.region, config=_CLIENT_CONFIG)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> StreamRuntime:
        if self._started:
            return self
        self._started = True
        self.checkpoints.start()
        if self.metrics.cloudwatch is not None:
            self.metrics.cloudwatch.start()
        if self.metrics_port is not None:
            self.metrics_port = self.metrics.serve(self.metrics_port, self.metrics_host)
            log.info("metrics on http://%s:%d/metrics", self.metrics_host, self.metrics_port)
        self.registry.start()
        self._supervisor = threading.Thread(target=self._supervise, name="stream-runtime",
                                            daemon=True)
        self._supervisor.start()
        log.info("stream runtime started against %s%s", self.endpoint_url,
                 f" (functions: {', '.join(sorted(self.registry.only))})"
                 if self.registry.only else "")
        return self

    def _supervise(self) -> None:
        last_reap = time.monotonic()
        while not self.stop_event.is_set():
            for uuid, mapping in self.registry.mappings().items():
                consumer = self.consumers.get(uuid)
                if consumer is None or not consumer.alive:
                    if consumer is not None:
                        self.metrics.remove_iterator_age_source(consumer.iterator_ages)
                    log.info("consuming mapping %s: function %s ← %s (%s)", uuid,
                             mapping.function_name, mapping.stream_arn, mapping.state)
                    consumer = MappingConsumer(uuid, self.services)
                    self.consumers[uuid] = consumer
                    self.metrics.add_iterator_age_source(consumer.iterator_ages)
                    consumer.start()
            for uuid, consumer in list(self.consumers.items()):
                if not consumer.alive and self.registry.mapping(uuid) is None:
                    self.metrics.remove_iterator_age_source(consumer.iterator_ages)
                    del self.consumers[uuid]
                    self.checkpoints.forget_mapping(uuid)
            if time.monotonic() - last_reap > 30:
                self.invoker.reap_idle()
                last_reap = time.monotonic()
            self.stop_event.wait(min(0.2, self.options.refresh_s))

    def stop(self) -> None:
        """Stop reading; in-flight invocations get shutdown_grace_s, then are abandoned."""
        if self._stopped:
            return
        self._stopped = True
        log.info("stream runtime stopping")
        self.stop_event.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
        self.invoker.shutdown(self.options.shutdown_grace_s)
        for consumer in list(self.consumers.values()):
            consumer.join(timeout=30)
            if consumer.alive:
                log.error("consumer of mapping %s did not stop", consumer.uuid)
        self.registry.stop()
        self.invoker.shutdown(0)  # environments started while stopping, if any
        self.metrics.close()
        self.checkpoints.close()
        log.info("stream runtime stopped")

    def __enter__(self) -> StreamRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- introspection (tests, tools) -----------------------------------------------------------
    def iterator_ages(self) -> dict[tuple[str, str], float]:
        ages: dict[tuple[str, str], float] = {}
        for consumer in list(self.consumers.values()):
            for function, shard, age in consumer.iterator_ages():
                ages[(function, shard)] = max(age, ages.get((function, shard), 0.0))
        return ages
