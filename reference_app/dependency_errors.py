"""How a 4xx answer from a dependency is surfaced: it means the caller sent something the
dependency refused (a bug or a state conflict), not that the dependency is down, so it does
not count against the breaker and is answered as 502 `dependency_rejected`."""

from __future__ import annotations

import requests

from reference_app.errors import ApiError


def _remote_error(response: requests.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error", {})
        return str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        return "", response.text[:200]


class DependencyRejected(ApiError):
    """502: the dependency answered 4xx; `remote_status`/`remote_code` say what it said."""

    def __init__(self, dependency: str, response: requests.Response) -> None:
        code, message = _remote_error(response)
        super().__init__(502, "dependency_rejected",
                         f"{dependency} refused the request ({response.status_code} "
                         f"{code or 'error'}: {message})")
        self.dependency = dependency
        self.remote_status = response.status_code
        self.remote_code = code
