"""Fault flags read by the shop (the *target* side of the chaos CLI's SSM fault contract).

The chaos CLI (`gameday chaos inject ...`) writes one SSM parameter per target:

    /gameday/faults/lambda/<function-name>     lambda-error | lambda-latency
    /gameday/faults/service/<payments|reviews> service-error | service-latency
    /gameday/faults/dynamodb/<service>         dynamodb-throttle

with a JSON value

    {"fault_id": "...", "fault": "lambda-error", "rate": 0.5, "status": 503,
     "exception": "RuntimeError", "delay_ms": 0, "tables": ["shop-orders"],
     "match": {"field": "OrderId", "equals": "..."}, "expires_at": 1700000000.0}

(`match` may also be a list of such conditions, all of which must hold: `[{"field": "Owner",
"equals": "..."}, {"field": "Status", "equals": "PENDING"}]` is one order's record that asks
for a reservation, not the update that cancels it.)

The expiry is enforced HERE, by the reader: an expired flag is ignored even if nobody ever
deletes it, so a fault ends on time even when the CLI that set it was SIGKILLed. A malformed
flag is ignored and logged (once per value), never raised into a request.

Wiring (a few lines in each process):

    flags = FaultFlags(lambda: aws.client("ssm", settings))          # one per process
    # Lambda-style handler, per record, before processing it:
    flags.inject_before(f"lambda/{function_name}", record)
    # HTTP service, in a before_request hook:
    try:
        flags.inject_before(f"service/{settings.service_name}")
    except FaultInjected as exc:
        return error_response(exc.status, "fault_injected", str(exc))
    # DynamoDB client of a service or handler:
    client.meta.events.register("before-parameter-build.dynamodb",
                                dynamodb_throttle_hook(flags, f"dynamodb/{service}"))

Pure: no Flask, no chaos imports; only botocore for the ClientError it raises.
"""

from __future__ import annotations

import builtins
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("reference_app.faults")

PARAMETER_PREFIX = "/gameday/faults/"
FAULT_KINDS = frozenset(
    {"lambda-error", "lambda-latency", "service-error", "service-latency", "dynamodb-throttle"}
)
# exceptions a lambda-error flag may name; anything else raises plain FaultInjected
ALLOWED_EXCEPTIONS = frozenset(
    {"Exception", "RuntimeError", "ValueError", "KeyError", "TimeoutError", "ConnectionError"}
)
MAX_DELAY_MS = 60_000


class FaultInjected(Exception):
    """Raised by inject_before for an error fault; `status` is the HTTP status to answer."""

    def __init__(self, spec: FaultSpec, message: str | None = None) -> None:
        super().__init__(message or f"injected {spec.fault} (fault {spec.fault_id})")
        self.spec = spec
        self.status = spec.status


MAX_MATCH_CONDITIONS = 4


@dataclass(frozen=True)
class FaultMatch:
    """Only records whose NewImage has every `(field, equals)` of `conditions` are affected."""

    conditions: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, raw: Any) -> FaultMatch:
        """From {"field", "equals"} or a list of them (1 to 4); ValueError otherwise."""
        items = raw if isinstance(raw, list) else [raw]
        if not 1 <= len(items) <= MAX_MATCH_CONDITIONS or not all(
                isinstance(item, dict) and isinstance(item.get("field"), str)
                and isinstance(item.get("equals"), str | int | float) for item in items):
            raise ValueError("match must be {\"field\": str, \"equals\": str} or a list of 1 "
                             f"to {MAX_MATCH_CONDITIONS} of them")
        return cls(tuple((item["field"], str(item["equals"])) for item in items))


@dataclass(frozen=True)
class FaultSpec:
    """One validated fault flag."""

    fault_id: str
    fault: str
    expires_at: float
    rate: float = 1.0
    status: int = 503
    exception: str = "RuntimeError"
    delay_ms: int = 0
    match: FaultMatch | None = None
    tables: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, text: str) -> FaultSpec:
        """Parse and validate a flag value; ValueError says what is wrong."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        fault = data.get("fault")
        if fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault!r}")
        fault_id = data.get("fault_id")
        if not isinstance(fault_id, str) or not fault_id:
            raise ValueError("fault_id missing")
        expires_at = _number(data, "expires_at", None)
        rate = _number(data, "rate", 1.0)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate {rate} is not within 0..1")
        status = int(_number(data, "status", 503))
        if not 400 <= status <= 599:
            raise ValueError(f"status {status} is not an HTTP error status")
        delay_ms = int(_number(data, "delay_ms", 0))
        if not 0 <= delay_ms <= MAX_DELAY_MS:
            raise ValueError(f"delay_ms {delay_ms} is not within 0..{MAX_DELAY_MS}")
        exception = data.get("exception", "RuntimeError")
        if not isinstance(exception, str):
            raise ValueError("exception must be a string")
        match = None
        if data.get("match") is not None:
            match = FaultMatch.parse(data["match"])
        tables = data.get("tables") or []
        if not (isinstance(tables, list) and all(isinstance(t, str) for t in tables)):
            raise ValueError("tables must be a list of table names")
        return cls(fault_id=fault_id, fault=fault, expires_at=float(expires_at), rate=rate,
                   status=status, exception=exception, delay_ms=delay_ms, match=match,
                   tables=tuple(tables))

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at <= (time.time() if now is None else now)

    def matches(self, record: Mapping[str, Any] | None) -> bool:
        """True when the spec has no match, or the record's NewImage has every field of it."""
        if self.match is None:
            return True
        if record is None:
            return False
        for field_name, equals in self.match.conditions:
            value = record_field(record, field_name)
            if value is None or str(value) != equals:
                return False
        return True

    def applies_to_table(self, table: str) -> bool:
        if not self.tables:
            return True
        return any(table == t or table.endswith("-" + t) for t in self.tables)


def _number(data: Mapping[str, Any], key: str, default: float | None) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number, got {value!r}")
    return float(value)


def record_field(record: Mapping[str, Any], field: str) -> Any:
    """A field of a DynamoDB stream record's NewImage (typed values unwrapped), or of a plain
    dict; None when absent."""
    image = (record.get("dynamodb") or {}).get("NewImage") if "dynamodb" in record else record
    if not isinstance(image, Mapping) or field not in image:
        return None
    value = image[field]
    if isinstance(value, Mapping) and len(value) == 1:
        (kind, inner), = value.items()
        if kind in {"S", "N", "BOOL"}:
            return inner
    return value


class FaultFlags:
    """Reads every flag under /gameday/faults/ at most once per `refresh_s`; thread-safe.

    `ssm_client_factory` builds an SSM client lazily (first use), so importing or constructing
    this costs nothing when no fault is ever set. SSM read errors keep the last good snapshot
    (expiry still applies to it) and are logged.

    With `background=True` (the shop's services) a snapshot that went stale within the last
    period is re-read by a daemon thread while the caller answers from it, so under steady
    traffic no request waits for SSM; after a quiet spell the first caller re-reads (a fault
    set meanwhile acts on it). `warm()` makes the first read (and builds the client) at
    start, before any request. Without it (tests, CLIs) the reader that finds the snapshot stale
    re-reads it itself, so a flag just written is seen at once with `refresh_s=0`.
    """

    def __init__(
        self,
        ssm_client_factory: Callable[[], Any],
        refresh_s: float = 1.0,
        prefix: str = PARAMETER_PREFIX,
        clock: Callable[[], float] = time.time,
        background: bool = False,
    ) -> None:
        self._factory = ssm_client_factory
        self.background = background
        self._client: Any = None
        self.refresh_s = refresh_s
        self.prefix = prefix.rstrip("/") + "/"
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: dict[str, FaultSpec] = {}
        self._loaded_at = float("-inf")
        self._warned: set[tuple[str, str]] = set()
        self._rng = random.Random()

    # -- reading ----------------------------------------------------------------------------
    def active(self, target: str) -> FaultSpec | None:
        """The unexpired fault for `target` (e.g. "lambda/shop-inventory"), or None."""
        spec = self._flags().get(target.strip("/"))
        if spec is None:
            return None
        if spec.expired(self._clock()):
            self._warn_once(target, spec.fault_id, "expired at %.0f; ignored", spec.expires_at)
            return None
        return spec

    def _flags(self) -> dict[str, FaultSpec]:
        """The current snapshot, re-read from SSM when older than `refresh_s`.

        Concurrency: one thread re-reads at a time. The first read (nothing known yet) makes
        every caller wait for it; after that a caller that finds another thread re-reading
        answers from the snapshot it has (at most one refresh period old) instead of queueing
        behind the SSM call. Under load that queue held every request of the process for the
        length of one SSM round trip each second (up to its 2 s timeout when the endpoint is
        slow): a latency spike for the whole replica once a second.
        """
        age = self._clock() - self._loaded_at
        if age < self.refresh_s:
            return self._snapshot
        first = self._loaded_at == float("-inf")
        if not self._lock.acquire(blocking=first):
            return self._snapshot  # someone else is re-reading: the snapshot is recent enough
        if self.background and age < 2 * self.refresh_s:
            # Steady traffic: this snapshot is at most two periods old. After a quiet spell
            # (a request every few seconds) it could be as old as that spell, and the first
            # request would act on a fault long set or long expired: that request re-reads.
            # Here the lock passes to the refresher thread, which releases it when done.
            threading.Thread(target=self._refresh_then_release, name="fault-flags",
                             daemon=True).start()
            return self._snapshot
        try:
            self._refresh()
            return self._snapshot
        finally:
            self._lock.release()

    def warm(self) -> threading.Thread:
        """Build the client and make the first read on a daemon thread (a service's start), so
        the first request finds the flags read; returns the thread."""
        thread = threading.Thread(target=self._flags, name="fault-flags-warm", daemon=True)
        thread.start()
        return thread

    def _refresh(self) -> None:
        """Re-read the flags if still stale; the caller holds the lock."""
        if self._clock() - self._loaded_at >= self.refresh_s:
            try:
                self._snapshot = self._load()
            except Exception as exc:  # noqa: BLE001 - a flag read must never break a request
                log.warning("could not read fault flags under %s: %s", self.prefix, exc)
            self._loaded_at = self._clock()

    def _refresh_then_release(self) -> None:
        try:
            self._refresh()
        finally:
            self._lock.release()

    def _load(self) -> dict[str, FaultSpec]:
        if self._client is None:
            self._client = self._factory()
        flags: dict[str, FaultSpec] = {}
        kwargs: dict[str, Any] = {"Path": self.prefix.rstrip("/"), "Recursive": True}
        while True:
            page = self._client.get_parameters_by_path(**kwargs)
            for param in page.get("Parameters", []):
                target = param["Name"][len(self.prefix):].strip("/")
                try:
                    flags[target] = FaultSpec.from_json(param["Value"])
                except ValueError as exc:
                    self._warn_once(target, param["Value"], "malformed fault flag ignored: %s",
                                    exc, level=logging.ERROR)
            token = page.get("NextToken")
            if not token:
                return flags
            kwargs["NextToken"] = token

    def _warn_once(self, target: str, key: str, msg: str, *args: Any,
                   level: int = logging.INFO) -> None:
        if (target, key) not in self._warned:
            self._warned.add((target, key))
            log.log(level, "fault flag %s: " + msg, target, *args)

    # -- acting -----------------------------------------------------------------------------
    def should_fail(self, spec: FaultSpec, rng: random.Random | None = None) -> bool:
        """True with probability `spec.rate`."""
        if spec.rate >= 1.0:
            return True
        if spec.rate <= 0.0:
            return False
        return (rng or self._rng).random() < spec.rate

    def inject_before(
        self,
        target: str,
        record: Mapping[str, Any] | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Act out the active fault for `target` (if any) before the real work: sleep for a
        latency fault, raise for an error fault (FaultInjected, which for lambda-error is also
        an instance of the named builtin exception). DynamoDB throttling is done by
        dynamodb_throttle_hook, not here."""
        spec = self.active(target)
        if spec is None or spec.fault == "dynamodb-throttle" or not spec.matches(record):
            return
        if not self.should_fail(spec, rng):
            return
        if spec.fault.endswith("-latency"):
            sleep(spec.delay_ms / 1000.0)
            return
        raise _exception_for(spec)


_EXCEPTION_TYPES: dict[str, type[FaultInjected]] = {}


def _exception_for(spec: FaultSpec) -> FaultInjected:
    """A FaultInjected that is also the named builtin exception (lambda-error), so a handler's
    own `except RuntimeError` paths behave as they would for a real error."""
    name = spec.exception if spec.exception in ALLOWED_EXCEPTIONS else "Exception"
    if spec.fault != "lambda-error" or name == "Exception":
        return FaultInjected(spec)
    if name not in _EXCEPTION_TYPES:
        base = getattr(builtins, name)
        _EXCEPTION_TYPES[name] = type(f"Injected{name}", (FaultInjected, base), {})
    return _EXCEPTION_TYPES[name](spec)


def _tables_in(params: Mapping[str, Any]) -> list[str]:
    """Table names a DynamoDB call touches (single-table, batch and transactional calls)."""
    tables = []
    if isinstance(params.get("TableName"), str):
        tables.append(params["TableName"])
    tables += list((params.get("RequestItems") or {}).keys())
    for item in params.get("TransactItems") or []:
        for op in item.values():
            if isinstance(op, Mapping) and isinstance(op.get("TableName"), str):
                tables.append(op["TableName"])
    return tables


def dynamodb_throttle_hook(
    flags: FaultFlags, target: str, rng: random.Random | None = None
) -> Callable[..., None]:
    """A botocore `before-parameter-build.dynamodb` handler (it sees the API parameters, so
    the table names) raising ProvisionedThroughputExceededException at the active
    dynamodb-throttle spec's rate for calls touching the named tables (all, if none named).

    Register with
    `client.meta.events.register("before-parameter-build.dynamodb", hook)`. It raises before
    the request is built, so botocore's own retries do not absorb it: the caller sees exactly
    `rate` of its calls throttled (its own retry/backoff is what is being tested).
    """
    from botocore.exceptions import ClientError

    def hook(params: Mapping[str, Any] | None = None, model: Any = None, **_: Any) -> None:
        spec = flags.active(target)
        if spec is None or spec.fault != "dynamodb-throttle":
            return
        tables = _tables_in(params or {})
        if tables and not any(spec.applies_to_table(t) for t in tables):
            return
        if not flags.should_fail(spec, rng):
            return
        operation = getattr(model, "name", "DynamoDB")
        raise ClientError(
            {
                "Error": {
                    "Code": "ProvisionedThroughputExceededException",
                    "Message": f"injected by fault {spec.fault_id}",
                },
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            operation,
        )

    return hook
