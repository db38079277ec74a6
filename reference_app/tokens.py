"""HS256 JWTs for shoppers, admins and services (`sub` = subject id, `role`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ROLES = ("shopper", "admin", "service")
ALGORITHM = "HS256"
ISSUER = "shop"
LEEWAY_S = 5


class TokenError(Exception):
    """A token could not be verified; `code` is machine-readable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Claims:
    """What a verified token says."""

    subject: str
    role: str
    issued_at: int
    expires_at: int


def issue_token(subject: str, role: str, *, secret: str, ttl_s: int = 24 * 3600,
                now: float | None = None) -> str:
    """A signed token for `subject` with `role` (one of ROLES), valid for ttl_s seconds."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not subject:
        raise ValueError("subject must not be empty")
    if not secret:
        raise ValueError("secret must not be empty")
    issued = int(time.time() if now is None else now)
    payload = {"sub": subject, "role": role, "iss": ISSUER, "iat": issued,
               "exp": issued + int(ttl_s)}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(token: str, *, secret: str) -> Claims:
    """The claims of a valid token; TokenError (expired, bad signature, malformed, bad role)."""
    if not token:
        raise TokenError("token_missing", "no bearer token")
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, leeway=LEEWAY_S,
            options={"require": ["sub", "role", "exp", "iat", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token_expired", "token has expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("token_invalid", "token signature does not verify") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("token_invalid", f"token lacks the {exc.claim!r} claim") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError("token_invalid", f"token is not valid: {exc}") from exc
    role = payload.get("role")
    subject = payload.get("sub")
    if role not in ROLES:
        raise TokenError("token_invalid", f"token role {role!r} is not one of {', '.join(ROLES)}")
    if not isinstance(subject, str) or not subject:
        raise TokenError("token_invalid", "token subject is empty")
    return Claims(subject=subject, role=role, issued_at=int(payload["iat"]),
                  expires_at=int(payload["exp"]))


# Short aliases, as named in the design notes.
issue = issue_token
verify = verify_token
