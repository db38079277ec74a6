"""The game day's live status for the web UI tab: active faults, breakers, alarms, conflicts.

* faults: `<state_dir>/ledger.json`, a list of `{name, target(s), expires_at, status, ...}`
  written by the chaos tooling (or `{"faults": [...]}`); entries whose status is not
  `active` or whose expires_at has passed are left out; no file -> none;
* breakers: `GET <storefront>/v1/admin/breakers` with the state file's admin token;
* alarms: CloudWatch `describe_alarms` at the state file's `urls.aws` (region us-east-1,
  dummy credentials "testing": moto accepts anything and nothing can reach a real account).

Each source fails on its own (its error is reported, the others still show). Results are
cached for a couple of seconds because the web UI polls every two seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from loadtests.hosts import load_state, state_dir_of

log = logging.getLogger("loadtests.status")
LEDGER_FILE = "ledger.json"
AWS_REGION = "us-east-1"


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()
    return None


def read_faults(state_dir: Path, now: float | None = None) -> list[dict[str, Any]]:
    """Active (unexpired) faults from the ledger; [] when there is no ledger."""
    path = state_dir / LEDGER_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    if isinstance(data, dict):
        data = data.get("faults", [])
    if not isinstance(data, list):
        raise ValueError(f"{path} is not a list of faults")
    now = time.time() if now is None else now
    active = []
    for fault in data:
        if not isinstance(fault, dict) or fault.get("status", "active") != "active":
            continue  # undone or expired entries stay in the ledger as history
        expires = _epoch(fault.get("expires_at"))
        if expires is not None and expires <= now:
            continue
        targets = fault.get("targets")
        target = ", ".join(map(str, targets)) if isinstance(targets, list) else \
            str(fault.get("target", ""))
        active.append({"name": str(fault.get("name", "?")), "target": target,
                       "fault_id": fault.get("fault_id"),
                       "expires_at": fault.get("expires_at"),
                       "expires_in_s": None if expires is None else round(expires - now, 1)})
    return active


def normalize_breakers(body: Any) -> list[dict[str, Any]]:
    """`[{name, state, ...}]` from the shop's breaker answer, whatever its exact layout."""
    if isinstance(body, dict) and "breakers" in body:
        body = body["breakers"]
    out: list[dict[str, Any]] = []
    if isinstance(body, dict):
        for name, value in sorted(body.items()):
            if isinstance(value, dict):
                out.append({**value, "name": str(name),
                            "state": str(value.get("state", value.get("State", "?")))})
            else:
                out.append({"name": str(name), "state": str(value)})
    elif isinstance(body, list):
        for value in body:
            if isinstance(value, dict):
                name = value.get("name") or value.get("dependency") or "?"
                out.append({**value, "name": str(name), "state": str(value.get("state", "?"))})
    return out


def fetch_breakers(storefront: str, admin_token: str, timeout_s: float,
                   get: Callable[..., Any] = requests.get) -> list[dict[str, Any]]:
    response = get(f"{storefront.rstrip('/')}/v1/admin/breakers",
                   headers={"Authorization": f"Bearer {admin_token}"}, timeout=timeout_s)
    if response.status_code != 200:
        raise RuntimeError(f"GET /v1/admin/breakers answered {response.status_code}")
    return normalize_breakers(response.json())


def cloudwatch_client(endpoint: str, timeout_s: float) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "cloudwatch", endpoint_url=endpoint, region_name=AWS_REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        aws_session_token="testing",
        config=Config(connect_timeout=timeout_s, read_timeout=timeout_s,
                      retries={"max_attempts": 1}),
    )


def fetch_alarms(client: Any) -> list[dict[str, Any]]:
    alarms: list[dict[str, Any]] = []
    for page in client.get_paginator("describe_alarms").paginate():
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            alarms.append({"name": alarm.get("AlarmName", "?"),
                           "state": alarm.get("StateValue", "?"),
                           "reason": alarm.get("StateReason", "")})
    return sorted(alarms, key=lambda a: a["name"])


class GamedayStatus:
    """Collects the status on demand, at most once per ttl_s."""

    def __init__(self, state_dir: Path | None,
                 counters: Callable[[], dict[str, Any]] | None = None,
                 ttl_s: float = 2.0, timeout_s: float = 1.5) -> None:
        self.state_dir = state_dir_of(state_dir)
        self.counters = counters or (lambda: {})
        self.ttl_s, self.timeout_s = ttl_s, timeout_s
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0
        self._client: tuple[str, Any] | None = None

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._cached is None or now - self._cached_at >= self.ttl_s:
            self._cached, self._cached_at = self.collect(), now
        return self._cached

    def _cloudwatch(self, endpoint: str) -> Any:
        if self._client is None or self._client[0] != endpoint:
            self._client = (endpoint, cloudwatch_client(endpoint, self.timeout_s))
        return self._client[1]

    def collect(self) -> dict[str, Any]:
        errors: dict[str, str] = {}
        status: dict[str, Any] = {"generated_at": time.time(), "state_dir": str(self.state_dir),
                                  "faults": [], "breakers": [], "alarms": [], "errors": errors}
        try:
            status["faults"] = read_faults(self.state_dir)
        except (OSError, ValueError) as exc:
            errors["faults"] = str(exc)
        try:
            state = load_state(self.state_dir)
        except Exception as exc:  # noqa: BLE001 - shown in the tab instead
            errors["breakers"] = errors["alarms"] = str(exc)
            state = None
        if state is not None:
            urls, tokens = state.get("urls", {}), state.get("tokens", {})
            try:
                status["breakers"] = fetch_breakers(urls["storefront"], tokens["admin"],
                                                    self.timeout_s)
            except Exception as exc:  # noqa: BLE001 - any failure is shown, not raised
                errors["breakers"] = f"{type(exc).__name__}: {exc}"
            try:
                status["alarms"] = fetch_alarms(self._cloudwatch(urls["aws"]))
            except Exception as exc:  # noqa: BLE001
                errors["alarms"] = f"{type(exc).__name__}: {exc}"
        status["counters"] = self.counters()
        return status


def _breaker_detail(breaker: dict[str, Any]) -> str:
    parts = []
    if breaker.get("fail_max") is not None:
        parts.append(f"failures {breaker.get('fail_counter', '?')}/{breaker['fail_max']}")
    if breaker.get("seconds_until_half_open") is not None:
        parts.append(f"half-open in {float(breaker['seconds_until_half_open']):.0f} s")
    if breaker.get("enabled") is False:
        parts.append("disabled")
    return ", ".join(parts)


def table_rows(status: dict[str, Any]) -> list[dict[str, str]]:
    """Rows (kind, name, state, detail) for the web UI's table."""
    rows: list[dict[str, str]] = []
    faults = status.get("faults") or []
    if not faults:
        rows.append({"kind": "fault", "name": "none", "state": "-",
                     "detail": status.get("errors", {}).get("faults", "no active fault")})
    for fault in faults:
        left = fault.get("expires_in_s")
        rows.append({"kind": "fault", "name": fault["name"], "state": "active",
                     "detail": f"target {fault['target']}"
                               + (f", expires in {left:.0f} s" if left is not None else "")})
    for breaker in status.get("breakers") or []:
        rows.append({"kind": "breaker", "name": breaker["name"], "state": breaker["state"],
                     "detail": _breaker_detail(breaker)})
    if not status.get("alarms") and not status.get("errors", {}).get("alarms"):
        rows.append({"kind": "alarm", "name": "none", "state": "-", "detail": "no alarm defined"})
    for alarm in status.get("alarms") or []:
        rows.append({"kind": "alarm", "name": alarm["name"], "state": alarm["state"],
                     "detail": alarm.get("reason", "")[:200]})
    for source in ("breakers", "alarms"):
        error = status.get("errors", {}).get(source)
        if error:
            rows.append({"kind": source[:-1], "name": "unavailable", "state": "?",
                         "detail": error[:200]})
    for metric, data in (status.get("counters") or {}).items():
        rows.append({"kind": "counter", "name": metric, "state": str(data.get("total", 0)),
                     "detail": ", ".join(f"{r}: {n}" for r, n in data.get("by_route", {}).items())})
    return rows
