"""How many products the shop serves, found by asking it (for `--catalog-size 0`).

Products are SKU-00001..SKU-<n> (docs/shop.md). `GET /v1/products/{sku}` answers 200 for a
product and 404 for none, so n is found with an exponential probe then a binary search:
about 2*log2(n) requests, made once before the users start and not counted in the stats.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests

from loadtests.data import sku_for

log = logging.getLogger("loadtests.catalog")
MAX_PRODUCTS = 100_000


class CatalogProbeError(RuntimeError):
    """The shop did not answer 200/404 for a product."""


def product_exists(host: str, number: int, timeout_s: float = 3.0,
                   get: Callable[..., Any] = requests.get) -> bool:
    response = get(f"{host.rstrip('/')}/v1/products/{sku_for(number)}", timeout=timeout_s)
    if response.status_code == 200:
        return True
    if response.status_code == 404:
        return False
    raise CatalogProbeError(f"GET /v1/products/{sku_for(number)} answered "
                            f"{response.status_code}")


def discover_catalog_size(exists: Callable[[int], bool]) -> int:
    """The largest n with exists(1..n), assuming the SKUs are contiguous; 0 if none."""
    if not exists(1):
        return 0
    low, high = 1, 2
    while high <= MAX_PRODUCTS and exists(high):
        low, high = high, high * 2
    # exists(low) and not exists(high) (or high past the maximum)
    high = min(high, MAX_PRODUCTS + 1)
    while high - low > 1:
        middle = (low + high) // 2
        if exists(middle):
            low = middle
        else:
            high = middle
    return low


def catalog_size_of(host: str, timeout_s: float = 3.0) -> int:
    """The shop's catalog size; raises CatalogProbeError or requests' errors."""
    return discover_catalog_size(lambda n: product_exists(host, n, timeout_s))
