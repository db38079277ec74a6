"""The payments ledger when the SDK retries a write whose answer was lost.

boto3 retries a call whose answer it did not get (read timeout, dropped connection). When the
first attempt had been applied, the retry fails its condition; on a loaded machine this made
a first authorise answer 200 "replayed" (CI: `test_authorize_twice_charges_once` got 200, 200).
Here the first attempt of one operation really reaches the local endpoint and its answer is
then lost (a ReadTimeoutError from botocore's `before-send`, which its retry handler retries
like a real one), so the ledger meets exactly that retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from reference_app.aws import dynamodb_client
from reference_app.payments.ledger import AUTHORIZED, CAPTURED, VOIDED, PaymentLedger
from tests.conftest import lose_first_answer
from tests.shop.conftest import Shop

pytestmark = pytest.mark.integration


def _ledger_losing_first_answer(shop: Shop, operation: str) -> tuple[PaymentLedger, list[int]]:
    """A ledger on its own client whose first `operation` call is applied but not answered."""
    ddb = dynamodb_client(shop.settings)
    return PaymentLedger(ddb, shop.settings.tables.payments), lose_first_answer(ddb, operation)


def _key() -> str:
    return f"ord-{uuid.uuid4().hex}"


def _authorised(shop: Shop) -> str:
    key = _key()
    PaymentLedger(dynamodb_client(shop.settings), shop.settings.tables.payments).authorize(
        key, key, 1500)
    return key


CASES: dict[str, tuple[str, Callable[[Shop], str], Callable[[PaymentLedger, str], Any], str]] = {
    "authorize": ("PutItem", lambda shop: _key(),
                  lambda ledger, key: ledger.authorize(key, key, 1500), AUTHORIZED),
    "capture": ("UpdateItem", _authorised,
                lambda ledger, key: ledger.transition(key, "capture"), CAPTURED),
    "void of an unknown key": ("PutItem", lambda shop: _key(),
                               lambda ledger, key: ledger.transition(key, "void"), VOIDED),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_write_retried_after_its_answer_was_lost_is_not_a_replay(shop: Shop, case: str) -> None:
    operation, make_key, call, status = CASES[case]
    key = make_key(shop)
    ledger, lost = _ledger_losing_first_answer(shop, operation)

    outcome = call(ledger, key)

    assert lost == [200], "the first attempt reached the endpoint and was applied"
    assert outcome.replayed is False, "this call made the change; its own retry is no replay"
    assert outcome.record["Status"] == status
    assert [h["Status"] for h in outcome.record["History"]][-1] == status
    # a real second call with the same key is still a replay, and changes nothing
    again = call(PaymentLedger(dynamodb_client(shop.settings), shop.settings.tables.payments),
                 key)
    assert again.replayed is True
    assert again.record["History"] == outcome.record["History"]
