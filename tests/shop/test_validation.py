"""Unit tests of request validation: strict models, JSON-only bodies, named fields."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from reference_app.errors import ApiError
from reference_app.validation import (
    AddItemIn,
    AdminProductUpdateIn,
    AuthorizeIn,
    ReviewIn,
    check_id,
    check_sku,
    parse_body,
    query_int,
    read_json,
    validate,
)

LIMITS = {"max_item_qty": 99}


def _error(model: type, data: Any, context: dict[str, Any] | None = None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        validate(model, data, context=context)
    return caught.value


def test_add_item_accepts_a_json_integer() -> None:
    body = validate(AddItemIn, {"sku": "SKU-00001", "qty": 3}, context=LIMITS)
    assert (body.sku, body.qty) == ("SKU-00001", 3)


@pytest.mark.parametrize("qty", ["2", 2.5, 2.0, True, False, None, [2], 0, -1, 100])
def test_add_item_rejects_anything_but_an_int_in_range(qty: Any) -> None:
    error = _error(AddItemIn, {"sku": "SKU-00001", "qty": qty}, LIMITS)
    assert (error.status, error.code, error.field) == (400, "invalid_value", "qty")


def test_qty_limit_comes_from_the_settings() -> None:
    assert validate(AddItemIn, {"sku": "A", "qty": 5}, context={"max_item_qty": 5}).qty == 5
    error = _error(AddItemIn, {"sku": "A", "qty": 6}, {"max_item_qty": 5})
    assert "at most 5" in error.message


def test_unknown_and_missing_fields_are_named() -> None:
    error = _error(AddItemIn, {"sku": "SKU-00001", "qty": 1, "price_cents": 1})
    assert (error.code, error.field) == ("unknown_field", "price_cents")
    error = _error(AddItemIn, {"sku": "SKU-00001"})
    assert (error.code, error.field) == ("missing_field", "qty")


@pytest.mark.parametrize("sku", ["", "../etc/passwd", "a b", "x" * 41, 5])
def test_bad_skus_are_invalid(sku: Any) -> None:
    error = _error(AddItemIn, {"sku": sku, "qty": 1})
    assert (error.code, error.field) == ("invalid_value", "sku")


def test_review_rating_and_text() -> None:
    assert validate(ReviewIn, {"rating": 5, "text": "fine"}).rating == 5
    assert _error(ReviewIn, {"rating": 6, "text": "x"}).field == "rating"
    assert _error(ReviewIn, {"rating": "5", "text": "x"}).field == "rating"
    assert _error(ReviewIn, {"rating": 3, "text": "   "}).field == "text"
    assert _error(ReviewIn, {"rating": 3, "text": "x" * 2001}).field == "text"


def test_admin_update_needs_something_to_change() -> None:
    assert validate(AdminProductUpdateIn, {"qty": 0}).qty == 0
    error = _error(AdminProductUpdateIn, {})
    assert error.code == "invalid_value" and "price_cents" in error.message
    assert _error(AdminProductUpdateIn, {"price_cents": 0}).field == "price_cents"


def test_authorize_body() -> None:
    body = validate(AuthorizeIn, {"idempotency_key": "ord-1", "order_id": "ord-1",
                                  "amount_cents": 100})
    assert body.amount_cents == 100
    assert _error(AuthorizeIn, {"idempotency_key": "k", "order_id": "o",
                                "amount_cents": "100"}).field == "amount_cents"
    assert _error(AuthorizeIn, {"idempotency_key": "has space", "order_id": "o",
                                "amount_cents": 1}).field == "idempotency_key"


# -- body reading ---------------------------------------------------------------------------
@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    return app


def _read(app: Flask, data: bytes, content_type: str | None = "application/json",
          optional: bool = False) -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    with app.test_request_context("/", method="POST", data=data, headers=headers):
        return read_json(optional=optional)


def _read_error(app: Flask, data: bytes, content_type: str | None = "application/json",
                optional: bool = False) -> ApiError:
    with pytest.raises(ApiError) as caught:
        _read(app, data, content_type, optional)
    return caught.value


def test_json_object_is_read(app: Flask) -> None:
    assert _read(app, b'{"a": 1}') == {"a": 1}
    assert _read(app, b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}


def test_optional_body_may_be_absent(app: Flask) -> None:
    assert _read(app, b"", None, optional=True) == {}
    assert _read_error(app, b"", None).code == "body_required"


@pytest.mark.parametrize("data", [b'{"a": ', b"not json", b"[1, 2]", b'"text"', b"\xff\xfe",
                                  b'{"a": NaN}', b"[" * 400 + b"]" * 400],
                         ids=["truncated", "text", "array", "string", "bad-utf8", "nan", "deep"])
def test_malformed_json_is_400(app: Flask, data: bytes) -> None:
    error = _read_error(app, data)
    assert (error.status, error.code) == (400, "malformed_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_non_json_bodies_are_415(app: Flask, content_type: str | None) -> None:
    error = _read_error(app, b'{"a": 1}', content_type)
    assert (error.status, error.code) == (415, "unsupported_media_type")


def test_body_over_the_limit_is_413(app: Flask) -> None:
    error = _read_error(app, b'{"a": "' + b"x" * 2000 + b'"}')
    assert (error.status, error.code) == (413, "body_too_large")


def test_parse_body_validates(app: Flask) -> None:
    with app.test_request_context("/", method="POST", json={"sku": "S1", "qty": "2"}):
        with pytest.raises(ApiError) as caught:
            parse_body(AddItemIn, context=LIMITS)
    assert caught.value.field == "qty"


@pytest.mark.parametrize("raw, ok", [("5", True), ("0", False), ("51", False), ("abc", False),
                                     ("-1", False), ("2.5", False), ("", False)])
def test_query_int(app: Flask, raw: str, ok: bool) -> None:
    with app.test_request_context(f"/?limit={raw}"):
        if ok:
            assert query_int("limit", 20, 1, 50) == int(raw)
        else:
            with pytest.raises(ApiError) as caught:
                query_int("limit", 20, 1, 50)
            assert caught.value.field == "limit"
    with app.test_request_context("/"):
        assert query_int("limit", 20, 1, 50) == 20


def test_path_checks() -> None:
    assert check_sku("SKU-00001") == "SKU-00001"
    with pytest.raises(ApiError):
        check_sku("SKU 1")
    assert check_id("ord-abc:1.2_3", "order_id") == "ord-abc:1.2_3"
    with pytest.raises(ApiError) as caught:
        check_id("x" * 200, "order_id")
    assert caught.value.field == "order_id"
