"""Request validation: JSON-only bodies checked by strict pydantic v2 models, and query/path
parameter checks. Every failure is an ApiError naming the field, so a bad request never reaches
the data layer (and never becomes a 500).

- body not JSON (Content-Type) → 415 `unsupported_media_type`
- malformed JSON, or not an object → 400 `malformed_json`
- unknown field → 400 `unknown_field`; missing field → 400 `missing_field`
- wrong type or range (qty "2", 2.5, true, 0, > max_item_qty) → 400 `invalid_value`
- `null` for any field → 400 `invalid_value` (no request field is nullable in the OpenAPI
  documents: an optional field is left out, not sent as null)
- body over settings.max_body_bytes → 413 `body_too_large` (Flask's MAX_CONTENT_LENGTH)
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeVar

from flask import request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from werkzeug.exceptions import RequestEntityTooLarge

from reference_app.errors import ApiError

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
# payment keys in paths: an identifier, but not the segment of the authorise route
AUTHORIZE_SEGMENT = "authorize"
PAYMENT_KEY_REGEX = rf"(?!{AUTHORIZE_SEGMENT}(?![A-Za-z0-9._:-])){ID_PATTERN[1:-1]}"
_SKU = re.compile(SKU_PATTERN)
_ID = re.compile(ID_PATTERN)

Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every request body: unknown fields rejected, no type coercion, no nulls."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        # Optional fields default to None in Python, but on the wire they are absent, never
        # null: the documents declare no request field nullable.
        if isinstance(data, dict):
            for name, value in data.items():
                if value is None and name in cls.model_fields:
                    raise PydanticCustomError("null_value", "{field}: must not be null "
                                              "(leave the field out instead)", {"field": name})
        return data


class EmptyIn(StrictModel):
    """A body with no fields (optional; any key in it is unknown)."""


class CreateShopperIn(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)


class AddItemIn(StrictModel):
    sku: Sku
    qty: int = Field(ge=1)

    @field_validator("qty")
    @classmethod
    def _at_most_max(cls, value: int, info: ValidationInfo) -> int:
        limit = (info.context or {}).get("max_item_qty")
        if limit is not None and value > limit:
            raise ValueError(f"must be at most {limit}")
        return value


class ReviewIn(StrictModel):
    rating: int = Field(ge=1, le=5)
    text: str = Field(min_length=1, max_length=2000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class AdminProductUpdateIn(StrictModel):
    price_cents: int | None = Field(default=None, ge=1, le=10_000_000)
    qty: int | None = Field(default=None, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _something_to_change(self) -> AdminProductUpdateIn:
        if self.price_cents is None and self.qty is None:
            raise ValueError("give price_cents and/or qty")
        return self


class AuthorizeIn(StrictModel):
    idempotency_key: Identifier
    order_id: Identifier
    amount_cents: int = Field(ge=1, le=100_000_000)

    @field_validator("idempotency_key")
    @classmethod
    def _not_a_route(cls, value: str) -> str:
        if value == AUTHORIZE_SEGMENT:  # its record could never be read, captured or voided
            raise ValueError(f"must not be {AUTHORIZE_SEGMENT!r}")
        return value


class ServiceReviewIn(ReviewIn):
    shopper_id: Identifier


class ServiceLikeIn(StrictModel):
    shopper_id: Identifier


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _error_from_pydantic(exc: ValidationError) -> ApiError:
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or None
    kind = first.get("type", "")
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return ApiError(400, "unknown_field", f"unknown field {field!r}", field)
    if kind == "missing":
        return ApiError(400, "missing_field", f"field {field!r} is required", field)
    if kind == "null_value":
        return ApiError(400, "invalid_value", message, str((first.get("ctx") or {})["field"]))
    if field is None:
        return ApiError(400, "invalid_value", message)
    return ApiError(400, "invalid_value", f"{field}: {message}", field)


def read_json(optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object ({} when optional and absent)."""
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise ApiError(413, "body_too_large", "request body is too large") from exc
    if not raw:
        if optional:
            return {}
        raise ApiError(400, "body_required", "a JSON object body is required")
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type",
                       "send the body as JSON with Content-Type: application/json")
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "malformed_json", f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "body must be a JSON object")
    return data


def parse_body(model: type[M], *, optional: bool = False,
               context: dict[str, Any] | None = None) -> M:
    """Read and validate the body against `model`; ApiError on any problem."""
    data = read_json(optional=optional)
    return validate(model, data, context=context)


def validate(model: type[M], data: Any, *, context: dict[str, Any] | None = None) -> M:
    """Validate an already-parsed value against `model`; ApiError naming the field."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise _error_from_pydantic(exc) from exc


def query_int(name: str, default: int | None, minimum: int, maximum: int) -> int | None:
    """An integer query parameter in [minimum, maximum]; 400 naming it otherwise."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw):
        raise ApiError(400, "invalid_value", f"{name} must be an integer", name)
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ApiError(400, "invalid_value", f"{name} must be between {minimum} and {maximum}",
                       name)
    return value


def check_sku(sku: str, field: str = "sku") -> str:
    """A SKU from the path; 400 when it cannot be one."""
    if not _SKU.fullmatch(sku):
        raise ApiError(400, "invalid_value", f"{field} {sku[:50]!r} is not a valid SKU", field)
    return sku


def check_id(value: str, field: str) -> str:
    """An identifier (cart, order, payment key) from the path; 400 when malformed."""
    if not _ID.fullmatch(value):
        raise ApiError(400, "invalid_value", f"{field} is not a valid identifier", field)
    return value
