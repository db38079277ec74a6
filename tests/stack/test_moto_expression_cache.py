"""local_stack.moto_expression_cache: moto's update expressions parsed once per text, each use
handed its own tree (unit tests of that one module). That updates end as on plain moto is
checked against real servers in test_moto_fixes.py (UPDATES is shared with it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local_stack import moto_expression_cache

UPDATES: list[dict[str, Any]] = [
    {"UpdateExpression": "SET #s = :s, UpdatedAt = :now, Version = Version + :one",
     "ConditionExpression": "Version = :v",
     "ExpressionAttributeNames": {"#s": "Status"},
     "ExpressionAttributeValues": {":s": {"S": "PENDING"}, ":now": {"N": "1"},
                                   ":one": {"N": "1"}, ":v": {"N": "1"}}},
    {"UpdateExpression": "SET Tags = list_append(if_not_exists(Tags, :empty), :t) "
                         "REMOVE Obsolete ADD Hits :one",
     "ExpressionAttributeValues": {":empty": {"L": []}, ":t": {"L": [{"S": "a"}]},
                                   ":one": {"N": "1"}}},
    {"UpdateExpression": "SET #s = :s, UpdatedAt = :now, Version = Version + :one",
     "ConditionExpression": "Version = :v",
     "ExpressionAttributeNames": {"#s": "Status"},
     "ExpressionAttributeValues": {":s": {"S": "COMPLETED"}, ":now": {"N": "2"},
                                   ":one": {"N": "1"}, ":v": {"N": "2"}}},
    {"UpdateExpression": "SET #l.#k = :q DELETE Colours :c",
     "ExpressionAttributeNames": {"#l": "Lines", "#k": "SKU-1"},
     "ExpressionAttributeValues": {":q": {"N": "3"}, ":c": {"SS": ["red"]}}},
    {"UpdateExpression": "SET Tags = list_append(if_not_exists(Tags, :empty), :t) "
                         "REMOVE Obsolete ADD Hits :one",
     "ExpressionAttributeValues": {":empty": {"L": []}, ":t": {"L": [{"S": "b"}]},
                                   ":one": {"N": "1"}}},
    {"UpdateExpression": "SET #s = :s",  # a failed condition: the same error both ways
     "ConditionExpression": "Version = :v",
     "ExpressionAttributeNames": {"#s": "Status"},
     "ExpressionAttributeValues": {":s": {"S": "LOST"}, ":v": {"N": "99"}}},
    {"UpdateExpression": "SET = :s",  # does not parse
     "ExpressionAttributeValues": {":s": {"S": "x"}}},
    {"UpdateExpression": "SET = :s",  # and again: not cached, the same error
     "ExpressionAttributeValues": {":s": {"S": "x"}}},
]


@pytest.fixture
def cached() -> Iterator[type]:
    import moto.dynamodb.models as models

    moto_expression_cache.install()
    try:
        parser = models.UpdateExpressionParser
        parser.cache.cache_clear()
        yield parser
    finally:
        moto_expression_cache.uninstall()


def test_each_text_is_parsed_once_and_each_use_gets_its_own_tree(cached: type) -> None:
    import moto.dynamodb.responses as responses
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    assert responses.UpdateExpressionParser is cached and cached.original is UpdateExpressionParser
    texts = [u["UpdateExpression"] for u in UPDATES]
    trees = [cached.make(text) for text in texts if text != "SET = :s"]
    info = cached.cache.cache_info()
    assert (info.currsize, info.hits, info.misses) == (4, 2, 4), info
    assert len({id(tree) for tree in trees}) == len(trees)  # the validator rewrites its tree
    for text, tree in zip([t for t in texts if t != "SET = :s"], trees, strict=True):
        assert _shape(tree) == _shape(UpdateExpressionParser.make(text))


def _shape(node: Any) -> Any:
    """A tree as nested (class name, children or leaf value) tuples."""
    if isinstance(node, str | int | float | type(None)):
        return node
    children = getattr(node, "children", None)
    if isinstance(children, list | tuple):
        return type(node).__name__, tuple(_shape(child) for child in children)
    return type(node).__name__, children


def test_a_text_that_does_not_parse_fails_every_time_and_is_not_kept(cached: type) -> None:
    from moto.dynamodb.exceptions import InvalidUpdateExpression

    for _ in range(2):
        with pytest.raises(InvalidUpdateExpression):
            cached.make("SET = :s")
    assert cached.cache.cache_info().currsize == 0


def test_install_is_idempotent_and_uninstall_restores_moto() -> None:
    import moto.dynamodb.models as models
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    moto_expression_cache.install()
    stand_in = models.UpdateExpressionParser
    moto_expression_cache.install()
    assert models.UpdateExpressionParser is stand_in
    moto_expression_cache.uninstall()
    assert models.UpdateExpressionParser is UpdateExpressionParser
