"""local_stack.moto_transaction_tokens: the ledger of ClientRequestTokens (unit tests of that one
module). The tokens against real servers, with plain moto as the control, are in
test_moto_fixes.py."""

from __future__ import annotations

import pytest

from local_stack import moto_transaction_tokens
from local_stack.moto_transaction_tokens import TokenLedger, parameters_digest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_kept_for_its_window_then_forgotten() -> None:
    clock = Clock()
    ledger = TokenLedger(ttl_s=600, clock=clock)
    ledger.keep("t1", "d1", "answer")
    clock.now += 599
    assert ledger.seen("t1") == ("d1", "answer")
    clock.now += 2
    assert ledger.seen("t1") is None and len(ledger) == 0


def test_the_ledger_stays_bounded_under_any_rate() -> None:
    ledger = TokenLedger(ttl_s=600, max_tokens=3, clock=Clock())
    for n in range(10):
        ledger.keep(f"t{n}", "d", n)
    assert len(ledger) == 3
    assert ledger.seen("t6") is None and ledger.seen("t9") == ("d", 9)


def test_the_digest_ignores_the_token_and_sees_every_other_parameter() -> None:
    items = [{"Update": {"TableName": "t", "Key": {"K": {"S": "n"}}}}]
    assert parameters_digest({"TransactItems": items, "ClientRequestToken": "a"}) == \
        parameters_digest({"ClientRequestToken": "b", "TransactItems": items})
    assert parameters_digest({"TransactItems": items}) != parameters_digest(
        {"TransactItems": items, "ReturnConsumedCapacity": "TOTAL"})


def test_install_is_idempotent_and_uninstall_restores_moto() -> None:
    from moto.dynamodb.responses import DynamoHandler

    moto_transaction_tokens.uninstall()
    original = DynamoHandler.transact_write_items
    moto_transaction_tokens.install()
    patched = DynamoHandler.transact_write_items
    moto_transaction_tokens.install()
    try:
        assert DynamoHandler.transact_write_items is patched is not original
        assert moto_transaction_tokens.installed_ledger() is not None
    finally:
        moto_transaction_tokens.uninstall()
    assert DynamoHandler.transact_write_items is original
    assert moto_transaction_tokens.installed_ledger() is None


def test_refuses_a_moto_that_reads_the_token_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.responses import DynamoHandler

    from local_stack import moto_hooks

    moto_transaction_tokens.uninstall()

    def transact_write_items(self: object) -> None:
        token = self.body.get("ClientRequestToken")  # type: ignore[attr-defined]
        self.dynamodb_backend.transact_write_items(token)  # type: ignore[attr-defined]

    monkeypatch.setattr(DynamoHandler, "transact_write_items", transact_write_items)
    with pytest.raises(moto_hooks.MotoHookNotFound, match="ClientRequestToken"):
        moto_transaction_tokens.install()
