"""Settings of the shop services, read from environment variables.

Every setting has a default that works on the embedded local stack; `gameday up` sets the
endpoints and secrets for each process it starts. The same variables configure the services in
containers (compose) and on AWS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A setting has a value the shop cannot use; the message names the variable."""


def _env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    return value


def _env_float(name: str, default: float, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true/false)")


@dataclass(frozen=True)
class TableNames:
    """DynamoDB table names; all share one prefix so several stacks can share an endpoint."""

    prefix: str = "shop-"

    @property
    def products(self) -> str:
        return f"{self.prefix}products"

    @property
    def reviews(self) -> str:
        return f"{self.prefix}reviews"

    @property
    def weekly(self) -> str:
        return f"{self.prefix}weekly-products"

    @property
    def keywords(self) -> str:
        return f"{self.prefix}keywords"

    @property
    def carts(self) -> str:
        return f"{self.prefix}carts"

    @property
    def orders(self) -> str:
        return f"{self.prefix}orders"

    @property
    def payments(self) -> str:
        return f"{self.prefix}payments"

    def all(self) -> list[str]:
        return [
            self.products,
            self.reviews,
            self.weekly,
            self.keywords,
            self.carts,
            self.orders,
            self.payments,
        ]


@dataclass(frozen=True)
class Settings:
    """All settings of one shop process."""

    service_name: str = "storefront"
    replica_id: str = "0"
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    tables: TableNames = field(default_factory=TableNames)
    redis_url: str = "redis://127.0.0.1:6379/0"
    payments_url: str = "http://127.0.0.1:8701"
    reviews_url: str = "http://127.0.0.1:8702"
    token_secret: str = "local-dev-secret-change-me"
    token_ttl_s: int = 24 * 3600
    breaker_enabled: bool = True
    breaker_fail_max: int = 5
    breaker_reset_timeout_s: float = 5.0
    dependency_timeout_s: float = 2.0
    cache_ttl_s: int = 30
    # search results are generational (an admin update invalidates them all at once): their
    # TTL only bounds memory and a lost invalidation, so it is longer than the others'
    search_cache_ttl_s: int = 600
    cart_max_attempts: int = 8
    # above the largest valid body (a 2000-character review text, JSON-escaped at up to 12
    # bytes a character, is ~24 KB), so a body refused with 413 could never have been valid
    max_body_bytes: int = 64 * 1024
    max_cart_lines: int = 20
    max_item_qty: int = 99
    # a checkout whose outcome is unknown (payments or DynamoDB did not answer) stays open this
    # long for a retry with the same Idempotency-Key; then the sweeper cancels it
    checkout_timeout_s: float = 15.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            service_name=_env_str("SHOP_SERVICE", "storefront"),
            replica_id=_env_str("SHOP_REPLICA_ID", "0"),
            aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
            aws_region=os.environ.get("AWS_DEFAULT_REGION")
            or os.environ.get("AWS_REGION")
            or "us-east-1",
            tables=TableNames(_env_str("SHOP_TABLE_PREFIX", "shop-")),
            redis_url=_env_str("SHOP_REDIS_URL", "redis://127.0.0.1:6379/0"),
            payments_url=_env_str("SHOP_PAYMENTS_URL", "http://127.0.0.1:8701").rstrip("/"),
            reviews_url=_env_str("SHOP_REVIEWS_URL", "http://127.0.0.1:8702").rstrip("/"),
            token_secret=_env_str("SHOP_TOKEN_SECRET", "local-dev-secret-change-me"),
            token_ttl_s=_env_int("SHOP_TOKEN_TTL_S", 24 * 3600, minimum=1),
            breaker_enabled=_env_bool("SHOP_BREAKER_ENABLED", True),
            breaker_fail_max=_env_int("SHOP_BREAKER_FAIL_MAX", 5, minimum=1),
            breaker_reset_timeout_s=_env_float("SHOP_BREAKER_RESET_TIMEOUT_S", 5.0, minimum=0.1),
            dependency_timeout_s=_env_float("SHOP_DEPENDENCY_TIMEOUT_S", 2.0, minimum=0.01),
            cache_ttl_s=_env_int("SHOP_CACHE_TTL_S", 30, minimum=1),
            search_cache_ttl_s=_env_int("SHOP_SEARCH_CACHE_TTL_S", 600, minimum=1),
            cart_max_attempts=_env_int("SHOP_CART_MAX_ATTEMPTS", 8, minimum=1),
            max_body_bytes=_env_int("SHOP_MAX_BODY_BYTES", 64 * 1024, minimum=256),
            max_cart_lines=_env_int("SHOP_MAX_CART_LINES", 20, minimum=1),
            max_item_qty=_env_int("SHOP_MAX_ITEM_QTY", 99, minimum=1),
            checkout_timeout_s=_env_float("SHOP_CHECKOUT_TIMEOUT_S", 15.0, minimum=1.0),
        )
