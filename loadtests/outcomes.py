"""How each answer of the shop is counted: success, expected conflict, expected shedding, failure.

Locust counts a request as failed only when we say so (every request uses catch_response).
The rules, per route template (docs/shop.md is the contract):

* the documented success status of the route (201, 200, 202; 200 or 201 for a like) -> OK;
* 409 on the cart routes and on checkout -> CONFLICT: the cart's optimistic concurrency (or a
  cart that is being checked out) refused the write after its own retries. That is the shop
  working as designed when several devices edit one cart, so it is a success in Locust's
  statistics and counted as a conflict (event `cart_conflict`, counter `conflicts.http_409`);
  409 on any other route is unexpected -> FAIL;
* a 2xx with `X-OCC-Retries: n` (n > 0) -> OK, and n is counted as `conflicts.occ_retries`;
* 503 with `Retry-After` -> SHED: a circuit breaker is open or a dependency is down and the
  shop fails fast as designed. A success in Locust's statistics (so chaos runs measure the
  shop's latency, not the harness), counted as `shed.http_503`; with `--shed-is-failure`
  it is a failure instead. A 503 without Retry-After -> FAIL;
* 503 `outcome_unknown` (with `Retry-After`) -> UNKNOWN: the shop could not confirm a write
  that may have happened (checkout: the order may be placed; a retry with the same
  Idempotency-Key completes it, the sweeper cancels it otherwise). Not shedding (the shop did
  not refuse the work) and not a failure: counted apart, as `outcome_unknown.http_503`, so a
  run shows how many answers left the client not knowing;
* the shop's 409 codes seen so far: `cart_checking_out` (another checkout holds the cart),
  `cart_empty` (checkout of a cart another device emptied), the OCC give-up after retries;
* 404 when removing an item another device already removed (cart contention only) ->
  STALE, counted as `cart.stale_remove`;
* everything else (other 4xx, 5xx, connection errors, status 0) -> FAIL with a reason that
  names the status and the shop's error code.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OUTCOME_UNKNOWN = "outcome_unknown"  # the shop's code for a write it could not confirm
SHOPPERS = "/v1/shoppers"
SEARCH = "/v1/products?q={q}"
PRODUCT = "/v1/products/{sku}"
WEEKLY = "/v1/weekly-products"
REVIEWS = "/v1/products/{sku}/reviews"
LIKES = "/v1/products/{sku}/likes"
CART = "/v1/carts/{cart_id}"
CART_ITEMS = "/v1/carts/{cart_id}/items"
CART_ITEM = "/v1/carts/{cart_id}/items/{sku}"
CHECKOUT = "/v1/carts/{cart_id}/checkout"
ORDER = "/v1/orders/{order_id}"


class Verdict(enum.Enum):
    OK = "ok"
    CONFLICT = "conflict"
    SHED = "shed"
    UNKNOWN = "unknown"
    STALE = "stale"
    FAIL = "fail"


@dataclass(frozen=True)
class RoutePolicy:
    ok: frozenset[int]
    conflict_ok: bool = False  # 409 is the cart's OCC answer on this route
    stale_ok: frozenset[int] = field(default_factory=frozenset)  # lost races, contention only


POLICIES: dict[tuple[str, str], RoutePolicy] = {
    ("POST", SHOPPERS): RoutePolicy(frozenset({201})),
    ("GET", SEARCH): RoutePolicy(frozenset({200})),
    ("GET", PRODUCT): RoutePolicy(frozenset({200})),
    ("GET", WEEKLY): RoutePolicy(frozenset({200})),
    ("POST", REVIEWS): RoutePolicy(frozenset({201})),
    ("POST", LIKES): RoutePolicy(frozenset({200, 201})),
    ("GET", CART): RoutePolicy(frozenset({200})),
    ("POST", CART_ITEMS): RoutePolicy(frozenset({200}), conflict_ok=True),
    ("DELETE", CART_ITEM): RoutePolicy(frozenset({200}), conflict_ok=True,
                                       stale_ok=frozenset({404})),
    ("POST", CHECKOUT): RoutePolicy(frozenset({202}), conflict_ok=True),
    ("GET", ORDER): RoutePolicy(frozenset({200})),
}


@dataclass(frozen=True)
class Classification:
    verdict: Verdict
    reason: str = ""
    occ_retries: int = 0
    code: str = ""  # the shop's error code, e.g. cart_checking_out

    @property
    def counts_as_failure(self) -> bool:
        return self.verdict is Verdict.FAIL


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A response header, whatever the case the client library stored it in."""
    if not headers:
        return None
    for key in (name, name.lower(), name.title()):
        value = headers.get(key)
        if value is not None:
            return str(value)
    lowered = name.lower()
    for key, value in headers.items():
        if str(key).lower() == lowered:
            return str(value)
    return None


def occ_retries(headers: Mapping[str, Any] | None) -> int:
    raw = header(headers, "X-OCC-Retries")
    try:
        return max(int(raw), 0) if raw is not None else 0
    except ValueError:
        return 0


def error_code(body: Any) -> str:
    """The shop's error code from `{"error": {"code": ...}}`, or "" when there is none."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code") or "")
    return ""


def classify(method: str, route: str, status: int, headers: Mapping[str, Any] | None,
             body: Any = None, *, allow_stale: bool = False,
             shed_is_failure: bool = False) -> Classification:
    """Decide how one answer counts. Pure: no I/O, no Locust."""
    policy = POLICIES.get((method.upper(), route))
    code = error_code(body)
    suffix = f" ({code})" if code else ""
    if policy is None:
        return Classification(Verdict.FAIL, f"no outcome policy for {method} {route}")
    if status in policy.ok:
        return Classification(Verdict.OK, occ_retries=occ_retries(headers))
    if status == 409 and policy.conflict_ok:
        return Classification(Verdict.CONFLICT, f"409{suffix}", occ_retries(headers), code)
    if status == 503 and header(headers, "Retry-After") is not None:
        if code == OUTCOME_UNKNOWN:
            return Classification(Verdict.UNKNOWN, f"503{suffix}", code=code)
        if shed_is_failure:
            return Classification(Verdict.FAIL, f"503 shed with Retry-After{suffix}", code=code)
        return Classification(Verdict.SHED, f"503{suffix}", code=code)
    if allow_stale and status in policy.stale_ok:
        return Classification(Verdict.STALE, f"{status}{suffix}", code=code)
    if status == 0:
        return Classification(Verdict.FAIL, "no answer (connection error or timeout)")
    expected = "/".join(str(s) for s in sorted(policy.ok))
    return Classification(Verdict.FAIL, f"unexpected {status}{suffix}, expected {expected}",
                          code=code)
