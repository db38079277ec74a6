"""local_stack.moto_hooks: one error for every moto patch that finds moto changed, and moto's
source read through it (unit tests of that one module and of the patches' use of it)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from local_stack import (
    aws_server,
    moto_cloudformation_fixes,
    moto_condition_cache,
    moto_dynamodb_fixes,
    moto_expression_cache,
    moto_fast_dispatch,
    moto_hooks,
    moto_transaction_tokens,
)


def test_every_patch_raises_the_one_error_the_emulator_refuses_on() -> None:
    for module in (aws_server, moto_cloudformation_fixes, moto_condition_cache,
                   moto_dynamodb_fixes, moto_expression_cache, moto_fast_dispatch,
                   moto_transaction_tokens):
        assert module.MotoHookNotFound is moto_hooks.MotoHookNotFound, module.__name__


def test_unreadable_source_is_a_moved_hook_naming_what() -> None:
    with pytest.raises(moto_hooks.MotoHookNotFound, match="cannot read moto's source of len"):
        moto_hooks.moto_source(len)  # a builtin has no Python source


def test_required_text_missing_names_the_text_and_the_module_to_review() -> None:
    assert "def moto_source" in moto_hooks.require_source(moto_hooks, "def moto_source", "x.py")
    with pytest.raises(moto_hooks.MotoHookNotFound,
                       match=r"no longer contains 'no such text': review local_stack/x\.py"):
        moto_hooks.require_source(moto_hooks, "no such text", "local_stack/x.py")


def test_expression_cache_refuses_an_unreadable_backend_and_leaves_moto_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.dynamodb.models as models
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    moto_expression_cache.uninstall()
    real = inspect.getsource
    update_item = models.DynamoDBBackend.update_item

    def getsource(obj: Any) -> str:
        if obj is update_item:
            raise OSError("could not get source code")
        return real(obj)

    monkeypatch.setattr(inspect, "getsource", getsource)
    with pytest.raises(moto_hooks.MotoHookNotFound, match="update_item"):
        moto_expression_cache.install()
    assert models.UpdateExpressionParser is UpdateExpressionParser
