"""Safety rails: the CLI touches loopback endpoints only, unless told otherwise explicitly.

- Every HTTP endpoint (shop, metrics, Grafana, Locust) must be loopback: 127.0.0.0/8, `::1` or
  `localhost`, as `reference_app.loopback` decides for every layer.
- The AWS endpoint must be loopback too; a real account needs `--target-aws` *and*
  `--allow-account ID` matching `sts get-caller-identity`, checked before any fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chaos.exceptions import UnsafeTarget
from deploy.aws import account as aws_account
from reference_app.loopback import DESCRIPTION, is_loopback_url

__all__ = ["UnsafeTarget", "check_account", "is_loopback_url", "require_loopback"]


def require_loopback(url: str, what: str) -> str:
    """`url` unchanged when it is a loopback URL; UnsafeTarget otherwise."""
    if not is_loopback_url(url):
        raise UnsafeTarget(
            f"refusing {what} at {url!r}: only {DESCRIPTION} endpoints are allowed"
        )
    return url


def check_account(sts_client: Any, allowed: Iterable[str]) -> str:
    """The caller's account id when it is in `allowed`; UnsafeTarget otherwise (the one rule,
    deploy.aws.account.check_account, which `gameday aws` uses too)."""
    try:
        return aws_account.check_account(
            sts_client, allowed,
            missing="--target-aws needs --allow-account ID (the account you mean to hit)")
    except aws_account.AccountNotAllowed as exc:
        raise UnsafeTarget(str(exc)) from exc
