"""The live configuration: event source mappings and their functions, read from the Lambda API.

Every ``refresh_s`` (about a second) a background thread lists the event source mappings whose
source is a DynamoDB stream (optionally only those of some functions), and reads each mapped
function's configuration (GetFunctionConfiguration: Handler, Environment, Timeout, MemorySize)
and reserved concurrency (GetFunctionConcurrency). The consumers read these snapshots at every
step, so what a chaos tool changes through the Lambda API takes effect within a refresh:
Enabled/Disabled and every setting of UpdateEventSourceMapping, PutFunctionConcurrency and
DeleteFunctionConcurrency, UpdateFunctionConfiguration.

Every ESM setting the runtime uses is stored and returned by moto 5.2 itself (BatchSize,
MaximumBatchingWindowInSeconds, MaximumRetryAttempts, MaximumRecordAgeInSeconds,
BisectBatchOnFunctionError, DestinationConfig, FunctionResponseTypes, ParallelizationFactor,
StartingPosition, State; MetricsConfig since moto 5.1.0), so there is no side channel. moto
validates none of the ranges AWS enforces; ``deploy.create_mapping`` does.

If the Lambda API cannot be reached, the last good snapshot stays in force (logged).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_stack.stream_runtime.esm_metrics import EVENT_COUNT
from local_stack.stream_runtime.handlers import FunctionConfig
from local_stack.stream_runtime.semantics import EsmSettings

log = logging.getLogger(__name__)

ENABLED_STATES = ("Enabled", "Enabling", "Creating")


@dataclass(frozen=True)
class MappingConfig:
    uuid: str
    function_name: str
    function_arn: str
    stream_arn: str
    state: str
    settings: EsmSettings

    @property
    def enabled(self) -> bool:
        return self.state in ENABLED_STATES

    @property
    def metrics_enabled(self) -> bool:
        """MetricsConfig asks for the EventCount group (esm_metrics)."""
        return EVENT_COUNT in self.settings.metrics


def is_dynamodb_stream_arn(arn: str) -> bool:
    return arn.startswith("arn:") and ":dynamodb:" in arn and "/stream/" in arn


def function_name_from_arn(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    return arn


def mapping_from_api(item: dict[str, Any]) -> MappingConfig:
    function_arn = item.get("FunctionArn", "")
    return MappingConfig(
        uuid=item["UUID"],
        function_name=function_name_from_arn(function_arn),
        function_arn=function_arn,
        stream_arn=item["EventSourceArn"],
        state=item.get("State") or "Enabled",
        settings=EsmSettings.from_api(item),
    )


class MappingRegistry:
    """Snapshots of mappings and functions, refreshed in the background."""

    def __init__(self, lambda_factory: Callable[[], Any],
                 functions: Iterable[str] | None = None, refresh_s: float = 1.0) -> None:
        self._lambda_factory = lambda_factory
        self._client: Any = None
        self.only = set(functions) if functions else None
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._mappings: dict[str, MappingConfig] = {}
        self._functions: dict[str, FunctionConfig] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self.refreshes = 0
        self.refreshed = threading.Event()

    def _lambda(self) -> Any:
        if self._client is None:
            self._client = self._lambda_factory()
        return self._client

    def refresh(self) -> bool:
        """One round of reads; False (and the old snapshot kept) when the API failed."""
        try:
            mappings = self._read_mappings()
            functions = {name: self._read_function(name)
                         for name in sorted({m.function_name for m in mappings.values()})}
        except (BotoCoreError, ClientError, OSError) as exc:
            self._failures += 1
            if self._failures <= 3 or self._failures % 60 == 0:
                log.warning("cannot read event source mappings (%d failures): %s",
                            self._failures, exc)
            return False
        with self._lock:
            self._mappings = mappings
            self._functions = {k: v for k, v in functions.items() if v is not None}
        self._failures = 0
        self.refreshes += 1
        self.refreshed.set()
        return True

    def _read_mappings(self) -> dict[str, MappingConfig]:
        client = self._lambda()
        out: dict[str, MappingConfig] = {}
        kwargs: dict[str, Any] = {}
        while True:
            page = client.list_event_source_mappings(**kwargs)
            for item in page.get("EventSourceMappings", []):
                if not is_dynamodb_stream_arn(item.get("EventSourceArn", "")):
                    continue
                mapping = mapping_from_api(item)
                if self.only is not None and mapping.function_name not in self.only:
                    continue
                out[mapping.uuid] = mapping
            marker = page.get("NextMarker")
            if not marker:
                return out
            kwargs["Marker"] = marker

    def _read_function(self, name: str) -> FunctionConfig | None:
        client = self._lambda()
        try:
            cfg = client.get_function_configuration(FunctionName=name)
            conc = client.get_function_concurrency(FunctionName=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        reserved = conc.get("ReservedConcurrentExecutions")
        arn = cfg.get("FunctionArn", "")
        return FunctionConfig(
            name=name,
            arn=arn,
            handler=cfg.get("Handler") or "",
            env=dict((cfg.get("Environment") or {}).get("Variables") or {}),
            timeout_s=float(cfg.get("Timeout") or 3),
            memory_mb=int(cfg.get("MemorySize") or 128),
            reserved_concurrency=None if reserved is None else int(reserved),
            region=arn.split(":")[3] if arn.count(":") >= 3 else "us-east-1",
        )

    # -- snapshots ----------------------------------------------------------------------------
    def mappings(self) -> dict[str, MappingConfig]:
        with self._lock:
            return dict(self._mappings)

    def mapping(self, uuid: str) -> MappingConfig | None:
        with self._lock:
            return self._mappings.get(uuid)

    def function(self, name: str) -> FunctionConfig | None:
        with self._lock:
            return self._functions.get(name)

    # -- background ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="esm-registry", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.refresh_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
