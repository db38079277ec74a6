"""The account rule for every command that acts on AWS: nothing happens in an account that the
operator did not name.

``check_account`` asks STS who the credentials belong to and refuses unless that account is in
the allowed list. It is the one implementation: ``gameday aws`` calls it before any other API
call, and ``chaos.safety.check_account`` (the chaos CLI's ``--target-aws``) wraps it in the
chaos CLI's own exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class AccountNotAllowed(ValueError):
    """The credentials' account is not one the operator allowed (or none was allowed)."""


def allowed_set(allowed: Iterable[str]) -> set[str]:
    """The non-empty, stripped account ids of `allowed`."""
    return {a.strip() for a in allowed if a and a.strip()}


def check_account(sts_client: Any, allowed: Iterable[str], *,
                  missing: str = "needs --allow-account ID (the account you mean to act on)",
                  ) -> str:
    """The caller's account id when it is in `allowed`; AccountNotAllowed otherwise (`missing`
    is the message when nothing was allowed). Asks STS only when something was allowed."""
    accounts = allowed_set(allowed)
    if not accounts:
        raise AccountNotAllowed(missing)
    account = str(sts_client.get_caller_identity()["Account"])
    if account not in accounts:
        raise AccountNotAllowed(
            f"refusing account {account}: not in --allow-account {sorted(accounts)}")
    return account
