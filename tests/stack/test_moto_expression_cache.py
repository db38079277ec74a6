"""local_stack.moto_expression_cache: moto's update expressions parsed once per text, each
validation handed its own copy (unit tests of that one module). That updates end as on plain moto is
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


def test_each_text_is_parsed_once_and_each_validation_gets_its_own_copy(cached: type) -> None:
    import moto.dynamodb.parsing.validators as validators
    import moto.dynamodb.responses as responses
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    assert responses.UpdateExpressionParser is cached and cached.original is UpdateExpressionParser
    assert validators.deepcopy is moto_expression_cache.copy_tree
    texts = [u["UpdateExpression"] for u in UPDATES if u["UpdateExpression"] != "SET = :s"]
    trees = [cached.make(text) for text in texts]
    info = cached.cache.cache_info()
    assert (info.currsize, info.hits, info.misses) == (4, 2, 4), info
    assert trees[0] is trees[2] and trees[1] is trees[4]  # one tree per text, never written to
    for text, tree in zip(texts, trees, strict=True):
        copied = validators.deepcopy(tree)  # what the validator writes to
        assert copied is not tree and not hasattr(copied, moto_expression_cache.PICKLE_ATTR)
        assert _shape(copied) == _shape(tree) == _shape(UpdateExpressionParser.make(text))


def test_only_the_cached_tree_itself_is_copied_from_its_pickle(cached: type) -> None:
    import copy

    tree = cached.make("SET a = :a")
    lookalike = copy.deepcopy(tree)  # carries the mark, but is another object
    lookalike.children[0].children[0].children[0].children[0].children[0].children[0] = "b"
    assert _shape(moto_expression_cache.copy_tree(lookalike)) == _shape(lookalike)
    assert _shape(moto_expression_cache.copy_tree(tree)) == _shape(tree) != _shape(lookalike)
    plain = {"a": [1, 2]}
    copied = moto_expression_cache.copy_tree(plain)
    assert copied == plain and copied is not plain and copied["a"] is not plain["a"]


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
    import copy

    import moto.dynamodb.parsing.validators as validators

    assert validators.deepcopy is copy.deepcopy
