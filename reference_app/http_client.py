"""Service-to-service HTTP: a pooled requests.Session per dependency that sends a service token
and the current correlation ID, with timeout = settings.dependency_timeout_s.

Connection errors, timeouts and 5xx answers raise `DependencyError` (they count against the
dependency's circuit breaker); 4xx answers are returned to the caller to interpret.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from reference_app.breaker import DependencyError
from reference_app.config import Settings
from reference_app.correlation import outgoing_headers
from reference_app.tokens import issue_token

log = logging.getLogger(__name__)

POOL_SIZE = 50


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the connection was refused (the request was never sent), False when it was
    dropped after sending (the dependency may have acted on it)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


class ServiceClient:
    """Calls one dependency at `base_url` as service `settings.service_name`."""

    def __init__(self, dependency: str, base_url: str, settings: Settings) -> None:
        self.dependency = dependency
        self.base_url = base_url.rstrip("/")
        self.timeout_s = settings.dependency_timeout_s
        self._secret = settings.token_secret
        self._subject = f"{settings.service_name}-{settings.replica_id}"
        self._token_ttl_s = settings.token_ttl_s
        self._token = ""
        self._token_renew_at = 0.0
        self._token_lock = threading.Lock()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def _service_token(self) -> str:
        now = time.time()
        if now >= self._token_renew_at:
            with self._token_lock:
                if now >= self._token_renew_at:
                    self._token = issue_token(self._subject, "service", secret=self._secret,
                                              ttl_s=self._token_ttl_s, now=now)
                    self._token_renew_at = now + self._token_ttl_s / 2
        return self._token

    def request(self, method: str, path: str, json: Any = None) -> requests.Response:
        """One call; DependencyError on connection error, timeout or 5xx."""
        headers = {"Authorization": f"Bearer {self._service_token()}", **outgoing_headers()}
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, json=json, headers=headers,
                                            timeout=(self.timeout_s, self.timeout_s))
        except requests.ConnectTimeout as exc:
            raise DependencyError(self.dependency, "timeout",
                                  f"{method} {path}: no connection within {self.timeout_s} s",
                                  maybe_applied=False) from exc
        except requests.Timeout as exc:
            raise DependencyError(self.dependency, "timeout",
                                  f"{method} {path} timed out after {self.timeout_s} s") from exc
        except requests.ConnectionError as exc:
            raise DependencyError(self.dependency, "connect",
                                  f"{method} {path} could not connect: {exc}",
                                  maybe_applied=not _never_connected(exc)) from exc
        except requests.RequestException as exc:
            raise DependencyError(self.dependency, "other", f"{method} {path}: {exc}") from exc
        if response.status_code >= 500:
            raise DependencyError(self.dependency, "http_5xx",
                                  f"{method} {path} answered {response.status_code}",
                                  status=response.status_code)
        return response

    def close(self) -> None:
        self.session.close()
