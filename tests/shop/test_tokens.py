"""Unit tests of the HS256 tokens."""

from __future__ import annotations

import time

import jwt
import pytest

from reference_app.tokens import ROLES, TokenError, issue_token, verify_token

SECRET = "unit-test-secret-0123456789abcdef-xyz"


@pytest.mark.parametrize("role", ROLES)
def test_round_trip(role: str) -> None:
    claims = verify_token(issue_token("someone", role, secret=SECRET, ttl_s=60), secret=SECRET)
    assert (claims.subject, claims.role) == ("someone", role)
    assert claims.expires_at - claims.issued_at == 60


def test_issue_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="role"):
        issue_token("x", "root", secret=SECRET)
    with pytest.raises(ValueError, match="subject"):
        issue_token("", "shopper", secret=SECRET)


def _code(token: str, secret: str = SECRET) -> str:
    with pytest.raises(TokenError) as caught:
        verify_token(token, secret=secret)
    return caught.value.code


def test_expired_token() -> None:
    token = issue_token("x", "shopper", secret=SECRET, ttl_s=1, now=time.time() - 3600)
    assert _code(token) == "token_expired"


def test_wrong_secret_and_garbage() -> None:
    token = issue_token("x", "shopper", secret=SECRET)
    assert _code(token, secret=SECRET + "-other") == "token_invalid"
    assert _code("not-a-token") == "token_invalid"
    assert _code("") == "token_missing"


def test_unsigned_and_foreign_tokens_are_refused() -> None:
    now = int(time.time())
    claims = {"sub": "x", "role": "admin", "iss": "shop", "iat": now, "exp": now + 60}
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    assert _code(unsigned) == "token_invalid"
    assert _code(jwt.encode({**claims, "role": "root"}, SECRET, algorithm="HS256")) == \
        "token_invalid"
    no_role = {k: v for k, v in claims.items() if k != "role"}
    assert _code(jwt.encode(no_role, SECRET, algorithm="HS256")) == "token_invalid"
    assert _code(jwt.encode({**claims, "iss": "elsewhere"}, SECRET, algorithm="HS256")) == \
        "token_invalid"
