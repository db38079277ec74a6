"""The reviews service over HTTP: COUNTS kept with each write, likes once per shopper."""

from __future__ import annotations

import uuid

import pytest
import requests

from reference_app.aws import dynamodb_client
from tests.shop.conftest import Shop

pytestmark = pytest.mark.integration
T = 10


def test_reviews_service(shop: Shop) -> None:
    service = shop.auth("storefront-test", "service")
    sku = f"NEW-{uuid.uuid4().hex[:8]}"  # a product with no COUNTS row yet
    dynamodb_client(shop.settings).put_item(
        TableName=shop.settings.tables.products,
        Item={"ProductId": {"S": sku}, "TranId": {"S": "0"}, "Name": {"S": "new"},
              "PriceCents": {"N": "100"}, "Qty": {"N": "1"}, "InitialQty": {"N": "1"}})
    base = f"{shop.reviews}/v1/products/{sku}"
    assert requests.get(f"{base}/counts", headers=service, timeout=T).json() == \
        {"sku": sku, "reviews": 0, "likes": 0}
    review = requests.post(f"{base}/reviews", headers=service, timeout=T,
                           json={"shopper_id": "shp-1", "rating": 5, "text": "nice"})
    assert review.status_code == 201
    assert review.json()["review"]["review_id"].startswith("REVIEW#")
    assert review.json()["counts"] == {"reviews": 1, "likes": 0}
    first = requests.post(f"{base}/likes", json={"shopper_id": "shp-1"}, headers=service,
                          timeout=T)
    again = requests.post(f"{base}/likes", json={"shopper_id": "shp-1"}, headers=service,
                          timeout=T)
    other = requests.post(f"{base}/likes", json={"shopper_id": "shp-2"}, headers=service,
                          timeout=T)
    assert [r.status_code for r in (first, again, other)] == [201, 200, 201]
    assert requests.get(f"{base}/counts", headers=service, timeout=T).json()["likes"] == 2

    assert requests.get(f"{base}/counts", timeout=T).status_code == 401
    assert requests.get(f"{base}/counts", headers=shop.auth("x", "admin"),
                        timeout=T).status_code == 403
    bad = requests.post(f"{base}/reviews", headers=service, timeout=T,
                        json={"shopper_id": "shp-1", "rating": 0, "text": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "rating"
    assert requests.get(f"{base}/counts", headers=service, timeout=T).json()["reviews"] == 1
