"""One request to the shop, named by its route template and classified by loadtests.outcomes.

Every request goes through `call()`: catch_response, the verdict (OK / CONFLICT / SHED / STALE /
FAIL) decides success or failure in Locust's statistics, conflicts fire the `cart_conflict`
event, shed requests honour Retry-After (capped by --max-retry-after). In a paced run
(`--rate`, loadtests.pacing) each request first waits for its slot.
"""

from __future__ import annotations

import json as jsonlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from loadtests.counters import conflict_hook, counters_for
from loadtests.outcomes import Classification, Verdict, classify, header
from loadtests.pacing import pacers_for

log = logging.getLogger("loadtests.calls")


@dataclass
class Reply:
    """What a journey needs from an answer."""

    status: int
    body: Any
    headers: Any
    outcome: Classification
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome.verdict is Verdict.OK

    @property
    def verdict(self) -> Verdict:
        return self.outcome.verdict


def path_of(template: str, query: dict[str, Any] | None = None, **ids: str) -> str:
    """Fill a route template with URL-quoted ids, plus an optional query string."""
    path = template.split("?", 1)[0]
    for key, value in ids.items():
        path = path.replace("{" + key + "}", quote(str(value), safe=""))
    if query:
        path += "?" + urlencode(query)
    return path


def _body(response: Any) -> Any:
    text = getattr(response, "text", None)
    if not text:
        return None
    try:
        return jsonlib.loads(text)
    except (ValueError, TypeError):
        return None


def _retry_after(headers: Any) -> float:
    raw = header(headers, "Retry-After")
    try:
        return max(float(raw), 0.0) if raw is not None else 0.0
    except ValueError:
        return 1.0


def call(user: Any, method: str, route: str, path: str, *, json: Any = None,
         auth: bool = True, allow_stale: bool = False) -> Reply:
    """Send one request for `user` and count it; never raises for an HTTP status."""
    settings = user.run_config
    headers = {"X-Correlation-ID": user.next_correlation_id()}
    if auth and user.token:
        headers["Authorization"] = f"Bearer {user.token}"
    kwargs: dict[str, Any] = {"name": route, "catch_response": True, "headers": headers}
    pacer = pacers_for(user.environment).requests
    if pacer is not None:
        pacer.wait()  # a paced run (--rate): the next request slot, before the clock starts
    if json is not None:
        kwargs["json"] = json
    with user.client.request(method, path, **kwargs) as response:
        status = int(getattr(response, "status_code", 0) or 0)
        body = _body(response)
        resp_headers = getattr(response, "headers", None) or {}
        outcome = classify(method, route, status, resp_headers, body, allow_stale=allow_stale,
                           shed_is_failure=settings.shed_is_failure)
        if outcome.counts_as_failure:
            response.failure(outcome.reason)
        else:
            response.success()
    _count(user, route, status, outcome)
    if outcome.verdict is Verdict.SHED:
        pause = min(_retry_after(resp_headers), settings.max_retry_after)
        if pause > 0:
            time.sleep(pause)
    return Reply(status, body, resp_headers, outcome, outcome.reason)


def _count(user: Any, route: str, status: int, outcome: Classification) -> None:
    environment = user.environment
    counters = counters_for(environment)
    hook = conflict_hook(environment)
    if outcome.verdict is Verdict.CONFLICT:
        hook.fire(user=user, route=route, kind="http_409", count=1, status=status,
                  code=outcome.code)
    if outcome.occ_retries:
        hook.fire(user=user, route=route, kind="occ_retry", count=outcome.occ_retries,
                  status=status, code=outcome.code)
    if outcome.verdict is Verdict.SHED:
        counters.add("shed.http_503", route)
    elif outcome.verdict is Verdict.UNKNOWN:
        counters.add("outcome_unknown.http_503", route)
    elif outcome.verdict is Verdict.STALE:
        counters.add("cart.stale_remove", route)
