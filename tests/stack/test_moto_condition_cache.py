"""local_stack.moto_condition_cache: a condition parsed once per (text, names, values), each
caller with its own lists of what it found (unit tests of that one module). That conditional
writes end as on plain moto through it is checked against real servers in test_moto_fixes.py."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from local_stack import moto_condition_cache
from local_stack.moto_condition_cache import ConditionCache


@pytest.fixture
def cache() -> Iterator[ConditionCache]:
    moto_condition_cache.uninstall()
    moto_condition_cache.install()
    try:
        installed = moto_condition_cache.installed_cache()
        assert installed is not None
        installed.clear()
        yield installed
    finally:
        moto_condition_cache.uninstall()


def _item(**attrs: dict[str, Any]) -> Item:
    return Item(DynamoType({"S": "k"}), None, {"K": {"S": "k"}, **attrs})


def _parse(text: str, names: dict[str, str] | None, values: dict[str, Any] | None
           ) -> tuple[Any, ConditionExpressionParser]:
    parser = ConditionExpressionParser(text, names, values)
    return parser.parse(), parser


def test_one_parse_per_text_names_and_values(cache: ConditionCache) -> None:
    text, names = "#s = :p AND attribute_not_exists(TranId)", {"#s": "Status"}
    first, p1 = _parse(text, names, {":p": {"S": "PENDING"}})
    again, p2 = _parse(text, dict(names), {":p": {"S": "PENDING"}})  # equal, not the same dicts
    assert again is first and cache.misses == 1
    other, _ = _parse(text, names, {":p": {"S": "PAID"}})
    assert other is not first and cache.misses == 2
    assert first.expr(_item(Status={"S": "PENDING"}))
    assert not first.expr(_item(Status={"S": "PAID"}))
    assert other.expr(_item(Status={"S": "PAID"}))
    assert not first.expr(_item(Status={"S": "PENDING"}, TranId={"S": "t"}))
    # each caller has its own lists (moto's handlers extend them in place)
    assert p1.expr_attr_names_found == p2.expr_attr_names_found == ["#s", "TranId"]
    assert p1.expr_attr_values_found == [":p"]
    p1.expr_attr_names_found += ["#projection"]
    assert p2.expr_attr_names_found == ["#s", "TranId"]
    assert _parse(text, names, {":p": {"S": "PENDING"}})[1].expr_attr_names_found == [
        "#s", "TranId"]


def test_the_kept_tree_refers_to_no_request_dict(cache: ConditionCache) -> None:
    values = {":v": {"N": "3"}}
    op, _ = _parse("Version = :v", None, values)
    values[":v"]["N"] = "4"  # the request's dict, changed after the parse
    assert op.expr(_item(Version={"N": "3"}))
    assert not op.expr(_item(Version={"N": "4"}))
    changed, _ = _parse("Version = :v", None, values)
    assert changed is not op and changed.expr(_item(Version={"N": "4"}))


def test_a_condition_that_does_not_parse_fails_every_time_and_is_not_kept(
        cache: ConditionCache) -> None:
    for text, values in (("Version = = :v", {":v": {"N": "1"}}),  # syntax
                         ("Version = :missing", {":v": {"N": "1"}})):  # unknown value
        errors = []
        for _ in range(2):
            with pytest.raises(Exception) as caught:
                _parse(text, None, values)
            errors.append((type(caught.value), str(caught.value)))
        assert errors[0] == errors[1]
    assert len(cache) == 0


def test_values_that_are_not_json_are_parsed_by_moto_every_time(cache: ConditionCache) -> None:
    values = {":b": {"B": b"\x00raw"}}
    first, _ = _parse("Payload = :b", None, values)
    second, _ = _parse("Payload = :b", None, values)
    assert first is not second and len(cache) == 0
    assert moto_condition_cache.cache_key("Payload = :b", None, values) is None


def test_no_names_and_empty_names_share_a_parse_but_keep_their_errors(
        cache: ConditionCache) -> None:
    first, _ = _parse("Version = :v", None, {":v": {"N": "1"}})  # a transaction's item
    again, _ = _parse("Version = :v", {}, {":v": {"N": "1"}})  # the handler of the same call
    assert again is first and cache.misses == 1
    errors = []
    for names in (None, {}):  # a name used without names: moto's own error for each
        with pytest.raises(Exception) as caught:
            _parse("#s = :v", names, {":v": {"N": "1"}})
        errors.append(type(caught.value))
    moto_condition_cache.uninstall()  # moto's own parse, for the same two calls
    plain = []
    for names in (None, {}):
        with pytest.raises(Exception) as caught:
            _parse("#s = :v", names, {":v": {"N": "1"}})
        plain.append(type(caught.value))
    assert errors == plain


def test_the_lru_forgets_the_oldest() -> None:
    small = ConditionCache(size=2)
    keys = [moto_condition_cache.cache_key(f"a{n} = :v", None, {":v": {"N": "1"}})
            for n in range(3)]
    for key in keys:
        assert key is not None
        small.put(key, (None, (), ()))
    assert len(small) == 2 and small.get(keys[0]) is None and small.get(keys[2]) is not None


class Op:
    def __init__(self, lhs: Any) -> None:
        self.lhs = lhs

    def expr(self, item: Any) -> bool:
        return bool(self.lhs)


class Func:
    def expr(self, item: Any) -> bool:
        return True


class Operand:
    def expr(self, item: Any) -> Any:
        return None


class Remembering(Op):
    def expr(self, item: Any) -> bool:
        self.last = item  # a tree that writes to itself while evaluating: not shareable
        return True


def test_install_refuses_moto_whose_tree_writes_to_itself() -> None:
    module = types.ModuleType(__name__)
    for cls in (Op, Func, Operand, Remembering):
        setattr(module, cls.__name__, cls)
    assert moto_condition_cache.written_outside_init(module) == ["Remembering.expr"]
    delattr(module, "Remembering")
    assert moto_condition_cache.written_outside_init(module) == []
    from moto.dynamodb import comparisons

    assert moto_condition_cache.written_outside_init(comparisons) == []


def test_install_is_idempotent_and_uninstall_restores_moto() -> None:
    moto_condition_cache.uninstall()
    original = ConditionExpressionParser.parse
    moto_condition_cache.install()
    patched = ConditionExpressionParser.parse
    moto_condition_cache.install()
    assert ConditionExpressionParser.parse is patched is not original
    moto_condition_cache.uninstall()
    assert ConditionExpressionParser.parse is original
    assert moto_condition_cache.installed_cache() is None
