"""Safety rails: the CLI touches loopback endpoints only, unless told otherwise explicitly.

- Every HTTP endpoint (shop, metrics, Grafana, Locust) must be in 127.0.0.0/8 (or `localhost`).
- The AWS endpoint must be loopback too; a real account needs `--target-aws` *and*
  `--allow-account ID` matching `sts get-caller-identity`, checked before any fault.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

from chaos.exceptions import UnsafeTarget

LOOPBACK_NET = ipaddress.ip_network("127.0.0.0/8")


def is_loopback_url(url: str) -> bool:
    host = urlparse(url).hostname
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host) in LOOPBACK_NET
    except ValueError:
        return False


def require_loopback(url: str, what: str) -> str:
    """`url` unchanged when it is a loopback URL; UnsafeTarget otherwise."""
    if not is_loopback_url(url):
        raise UnsafeTarget(
            f"refusing {what} at {url!r}: only loopback endpoints (127.0.0.0/8) are allowed"
        )
    return url


def check_account(sts_client: Any, allowed: Iterable[str]) -> str:
    """The caller's account id when it is in `allowed`; UnsafeTarget otherwise."""
    allowed = {a.strip() for a in allowed if a.strip()}
    if not allowed:
        raise UnsafeTarget("--target-aws needs --allow-account ID (the account you mean to hit)")
    account = str(sts_client.get_caller_identity()["Account"])
    if account not in allowed:
        raise UnsafeTarget(
            f"refusing account {account}: not in --allow-account {sorted(allowed)}"
        )
    return account
