"""Circuit breaker state: `GET /v1/admin/breakers` (admin token) on the storefront, else the
`shop_circuit_breaker_state{dependency,state}` gauge on each storefront replica's /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from chaos.context import ChaosContext
from chaos.probes import prometheus

STATES = ("closed", "open", "half_open")


def normalise_state(value: Any) -> str:
    text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    return {"halfopen": "half_open"}.get(text, text)


def parse_breakers(body: Any) -> dict[str, str]:
    """{dependency: state} from the admin endpoint's JSON, whichever of the usual shapes it
    has: {"breakers": {dep: {"state": s}}}, {"breakers": [{"name"|"dependency": d,
    "state": s}]}, {dep: s} or {dep: {"state": s}}."""
    if isinstance(body, dict) and "breakers" in body:
        body = body["breakers"]
    out: dict[str, str] = {}
    if isinstance(body, list):
        for item in body:
            if isinstance(item, dict):
                name = item.get("dependency") or item.get("name")
                if name and "state" in item:
                    out[str(name)] = normalise_state(item["state"])
    elif isinstance(body, dict):
        for name, item in body.items():
            if isinstance(item, dict) and "state" in item:
                out[str(name)] = normalise_state(item["state"])
            elif isinstance(item, str):
                out[str(name)] = normalise_state(item)
    return out


def from_admin(ctx: ChaosContext, timeout_s: float = 2.0) -> dict[str, str]:
    resp = requests.get(f"{ctx.url('storefront')}/v1/admin/breakers", timeout=timeout_s,
                        headers={"Authorization": f"Bearer {ctx.token('admin')}"})
    resp.raise_for_status()
    return parse_breakers(resp.json())


def from_metrics(ctx: ChaosContext, timeout_s: float = 1.0) -> dict[str, dict[str, str]]:
    """{replica: {dependency: state}} from each live storefront replica's gauge."""
    out: dict[str, dict[str, str]] = {}
    for replica in ctx.replicas("storefront"):
        if not replica.get("alive") or not replica.get("port"):
            continue
        url = f"http://127.0.0.1:{replica['port']}/metrics"
        try:
            samples = prometheus.scrape(url, timeout_s)
        except requests.RequestException:
            continue
        states = {}
        for s in prometheus.select(samples, "shop_circuit_breaker_state"):
            if s.value >= 1 and "dependency" in s.labels:
                states[s.labels["dependency"]] = normalise_state(s.labels.get("state", ""))
        out[replica["name"]] = states
    return out


def worst(states: list[str]) -> str | None:
    """open beats half_open beats closed: the state a caller may hit somewhere."""
    for state in ("open", "half_open", "closed"):
        if state in states:
            return state
    return states[0] if states else None


def resolve(ctx: ChaosContext, dependencies: list[str], admin_states: dict[str, str]
            ) -> Iterator[tuple[str, str | None]]:
    """(dependency, state) for each dependency in order: the admin endpoint's state
    (`admin_states`: from_admin's answer, {} if it failed), else the worst state over the
    replicas' gauges. The replicas are scraped at most once, when the first dependency missing
    from `admin_states` comes up (lazily, so a failing scrape still leaves the states yielded
    before it)."""
    per_replica: dict[str, dict[str, str]] | None = None
    for dependency in dependencies:
        if dependency in admin_states:
            yield dependency, admin_states[dependency]
            continue
        if per_replica is None:
            per_replica = from_metrics(ctx)
        yield dependency, worst([s[dependency] for s in per_replica.values() if dependency in s])


def breaker_state(ctx: ChaosContext, dependency: str) -> str | None:
    """The dependency's breaker state (admin endpoint; replica metrics if that fails)."""
    try:
        states = from_admin(ctx)
    except (requests.RequestException, ValueError, KeyError):
        states = {}
    [(_, state)] = resolve(ctx, [dependency], states)
    return state
