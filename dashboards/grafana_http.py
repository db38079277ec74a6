"""The connection to a Grafana HTTP API shared by dashboard push and annotations: a
`grafana-client` API object for a checked URL, and one error type whose message says what went
wrong (bad URL, unreachable, token refused, not allowed, conflict, not Grafana).

Why grafana-client 3.x: every 4.x and 5.x release depends on niquests, which installs
urllib3-future in place of urllib3 for every package of the environment (boto3 and requests
included); 3.x uses requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

import requests
from grafana_client import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaServerError,
    GrafanaUnauthorizedError,
)

from reference_app.loopback import DESCRIPTION, is_loopback_host

DEFAULT_URL = "http://127.0.0.1:3000"
DEFAULT_TIMEOUT_S = 10.0
T = TypeVar("T")


class GrafanaError(RuntimeError):
    """A Grafana call failed; the message names the URL and the likely cause. `unreachable`:
    nothing answered (refused, no such host, timed out), as opposed to an answer saying no."""

    def __init__(self, message: str, status: int | None = None,
                 unreachable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.unreachable = unreachable


def check_url(url: str, allow_remote: bool = False) -> str:
    """`url` without a trailing slash; ValueError unless it is http(s)://host[:port][/path]
    and (unless `allow_remote`) on loopback."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"{url!r} is not a Grafana URL (expected http://HOST:PORT)")
    try:
        parsed.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ValueError(f"{url!r}: {exc}") from None
    if not allow_remote and not is_loopback_host(parsed.hostname):
        raise ValueError(f"{url!r} is not on {DESCRIPTION}; pass --allow-remote to "
                         "use a Grafana elsewhere")
    return url.strip().rstrip("/")


def connect(url: str, token: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
            allow_remote: bool = False) -> GrafanaApi:
    """A grafana-client API for `url` (a sub-path such as /grafana is kept), authenticated
    with a Bearer `token`, or with user:password given in the URL, or anonymous."""
    base = check_url(url, allow_remote)
    # grafana-client appends "api" to the URL's path as it is: it must end with "/"
    return GrafanaApi.from_url(base + "/", credential=token or None, timeout=timeout_s)


def describe(api: GrafanaApi) -> str:
    """The URL for messages (credentials removed)."""
    parsed = urlparse(str(api.url))
    netloc = parsed.hostname or ""
    if parsed.port:
        netloc += f":{parsed.port}"
    return parsed._replace(netloc=netloc).geturl().rstrip("/")


def call(api: GrafanaApi, what: str, action: Callable[[], T]) -> T:
    """Run one grafana-client call; turn every failure into a GrafanaError saying what to do."""
    where = describe(api)
    try:
        return action()
    except GrafanaUnauthorizedError as exc:
        raise GrafanaError(
            f"{what}: Grafana at {where} refused the credentials (401): check --token / "
            "GRAFANA_TOKEN (a service account token, role Editor or Admin)", 401) from exc
    except GrafanaClientError as exc:
        status = int(getattr(exc, "status_code", 0) or 0)
        message = _message(exc)
        if status == 403:
            hint = "the token is valid but lacks the permission (needs Editor or Admin)"
        elif status == 404:
            hint = "not found: is this Grafana's URL (with its sub-path, if any)?"
        elif status == 412:
            hint = "it exists and differs: pass --overwrite to replace it"
        else:
            hint = "Grafana rejected the request"
        raise GrafanaError(f"{what}: {hint} ({status} from {where}: {message})",
                           status) from exc
    except GrafanaServerError as exc:
        status = int(getattr(exc, "status_code", 0) or 0)
        raise GrafanaError(f"{what}: Grafana at {where} failed ({status}: {_message(exc)})",
                           status) from exc
    except GrafanaException as exc:
        raise GrafanaError(f"{what}: {exc}") from exc
    except requests.exceptions.ConnectionError as exc:
        raise GrafanaError(f"{what}: cannot reach Grafana at {where} (connection refused or "
                           "no such host): is it running?", unreachable=True) from exc
    except requests.exceptions.Timeout as exc:
        raise GrafanaError(f"{what}: Grafana at {where} did not answer in time",
                           unreachable=True) from exc
    except (json.JSONDecodeError, requests.exceptions.JSONDecodeError) as exc:
        raise GrafanaError(f"{what}: {where} answered something that is not JSON: is it "
                           "Grafana's URL?") from exc
    except requests.exceptions.RequestException as exc:
        raise GrafanaError(f"{what}: request to {where} failed: {exc}") from exc


def _message(exc: GrafanaException) -> str:
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("message"):
        return str(response["message"])
    return str(response or exc)[:200]
