"""The game day's live status — active faults, breakers, alarms, conflicts — for the web UI's
Game day tab, `/gameday/status` and `gameday status --watch`.

* faults: `<state_dir>/ledger.json`, a list of `{name, target(s), expires_at, status, ...}`
  written by the chaos tooling (or `{"faults": [...]}`); entries whose status is not
  `active` or whose expires_at has passed are left out; no file -> none. Read on every
  snapshot (a local file): a fault injected from the CLI shows at the next poll;
* breakers: `GET <storefront>/v1/admin/breakers` with the state file's admin token; since
  when each is in its state: the shop's `opened_at` for an open breaker, else the first
  snapshot that saw the state (`since_exact` False when it was already so when watching began);
* alarms: CloudWatch `describe_alarms` at the state file's `urls.aws` (region us-east-1,
  dummy credentials "testing": moto accepts anything and nothing can reach a real account),
  with the metric, threshold and latest datapoint of each and when it entered its state.

Each source fails on its own (its error is reported, the others still show) and carries the
time it was read (`read_at`), so every reader can say how old a reading is and never show an
old one as current. The HTTP sources are cached for `ttl_s` (1 s): the tab polls every second,
and several open tabs share one reading. `status_view.py` turns a snapshot into what is shown.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
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
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, bool):
        return None
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
                       "started_at": _epoch(fault.get("started_at")),
                       "expires_at": fault.get("expires_at"), "ends_at": expires,
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


def _reason_data(alarm: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(alarm.get("StateReasonData") or "{}")
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def alarm_entry(alarm: dict[str, Any]) -> dict[str, Any]:
    """One `describe_alarms` alarm as the status keeps it: name, state, since when, the
    metric and its bound, the latest datapoint the state was decided on, the raw reason."""
    data = _reason_data(alarm)
    points = [p for p in data.get("recentDatapoints") or [] if isinstance(p, int | float)]
    return {"name": alarm.get("AlarmName", "?"), "state": alarm.get("StateValue", "?"),
            "since": _epoch(alarm.get("StateUpdatedTimestamp")),
            "metric": alarm.get("MetricName"), "statistic": alarm.get("Statistic"),
            "period_s": alarm.get("Period"), "threshold": alarm.get("Threshold"),
            "comparison": alarm.get("ComparisonOperator"),
            "treat_missing_data": alarm.get("TreatMissingData"),
            "latest": points[-1] if points else None,
            "unit": data.get("unit") or alarm.get("Unit"),
            "reason": alarm.get("StateReason", "")}


def fetch_alarms(client: Any) -> list[dict[str, Any]]:
    alarms: list[dict[str, Any]] = []
    for page in client.get_paginator("describe_alarms").paginate():
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            alarms.append(alarm_entry(alarm))
    return sorted(alarms, key=lambda a: a["name"])


class BreakerSince:
    """Since when each breaker is in its state, as far as the snapshots saw: the shop's
    `opened_at` for an open breaker, else the first snapshot that saw the state (exact to a
    poll when a change was seen; "at least since" when the state was there from the start)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, float, bool]] = {}  # name -> (state, since, exact)

    def update(self, breakers: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        out = []
        for breaker in breakers:
            name, state = breaker["name"], breaker["state"]
            previous = self._seen.get(name)
            if previous is None:
                since, exact = now, False
            elif previous[0] != state:
                since, exact = now, True
            else:
                since, exact = previous[1], previous[2]
            opened = _epoch(breaker.get("opened_at"))
            if state == "open" and opened is not None:
                since, exact = opened, True
            self._seen[name] = (state, since, exact)
            out.append({**breaker, "since": round(since, 3), "since_exact": exact})
        return out


class GamedayStatus:
    """Collects the status on demand: the ledger every time, the shop's breakers and the
    alarms at most once per ttl_s."""

    def __init__(self, state_dir: Path | None,
                 counters: Callable[[], dict[str, Any]] | None = None,
                 ttl_s: float = 1.0, timeout_s: float = 1.5,
                 clock: Callable[[], float] = time.time) -> None:
        self.state_dir = state_dir_of(state_dir)
        self.counters = counters or (lambda: {})
        self.ttl_s, self.timeout_s = ttl_s, timeout_s
        self.clock = clock
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0
        self._client: tuple[str, Any] | None = None
        self._since = BreakerSince()
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        """The status now: faults and counters fresh, breakers and alarms at most ttl_s old
        (each source with its `read_at`), and `view`, what a screen shows."""
        from loadtests.status_view import build_view

        with self._lock:  # several tabs polling at once share one reading
            now = time.monotonic()
            if self._cached is None or now - self._cached_at >= self.ttl_s:
                self._cached, self._cached_at = self.collect(), now
            status = dict(self._cached)
        errors = {k: v for k, v in status["errors"].items() if k != "faults"}
        status["errors"] = errors
        status["read_at"] = dict(status["read_at"])
        status["generated_at"] = self.clock()
        try:
            status["faults"] = read_faults(self.state_dir, status["generated_at"])
        except (OSError, ValueError) as exc:
            status["faults"], errors["faults"] = [], str(exc)
        status["read_at"]["faults"] = status["generated_at"]
        status["counters"] = self.counters()
        status["view"] = build_view(status)
        return status

    def _cloudwatch(self, endpoint: str) -> Any:
        if self._client is None or self._client[0] != endpoint:
            self._client = (endpoint, cloudwatch_client(endpoint, self.timeout_s))
        return self._client[1]

    def collect(self) -> dict[str, Any]:
        errors: dict[str, str] = {}
        now = self.clock()
        status: dict[str, Any] = {"generated_at": now, "state_dir": str(self.state_dir),
                                  "faults": [], "breakers": [], "alarms": [], "errors": errors,
                                  "read_at": {}}
        try:
            status["faults"] = read_faults(self.state_dir, now)
            status["read_at"]["faults"] = now
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
                breakers = fetch_breakers(urls["storefront"], tokens["admin"], self.timeout_s)
                read = self.clock()
                status["breakers"] = self._since.update(breakers, read)
                status["read_at"]["breakers"] = read
            except Exception as exc:  # noqa: BLE001 - any failure is shown, not raised
                errors["breakers"] = f"{type(exc).__name__}: {exc}"
            try:
                status["alarms"] = fetch_alarms(self._cloudwatch(urls["aws"]))
                status["read_at"]["alarms"] = self.clock()
            except Exception as exc:  # noqa: BLE001
                errors["alarms"] = f"{type(exc).__name__}: {exc}"
        status["counters"] = self.counters()
        return status
