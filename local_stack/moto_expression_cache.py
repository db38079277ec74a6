"""moto parses an UpdateExpression once per use, twice per UpdateItem: remember the parse.

A cost, not a behaviour (issue 11: the emulator's CPU per DynamoDB call). moto builds the
syntax tree of an UpdateExpression with its own tokenizer and recursive-descent parser, in
``DynamoHandler.update_item`` (to list the names and values used) and again in
``DynamoDBBackend.update_item`` (to validate and execute it); a TransactWriteItems ``Update``
is parsed in the handler and again in the backend. Then moto's ``Validator`` deep-copies the
tree (it rewrites its copy while resolving names and values). The shop sends a handful of
distinct expressions (its placeholders carry the values), so the same few texts are parsed
again and again: ~0.2 ms of CPU each on this machine, and the deep copy about as much, under
the emulator's DynamoDB lock.

Here ``UpdateExpressionParser`` in those two moto modules is a stand-in whose ``make`` keeps
each text's tree (an LRU of ``CACHE_SIZE`` texts) and hands out that same tree, which nobody
writes to: the handler only lists its names and values, and the backend gives it to the
``Validator``, which copies it first. The tree carries its own pickle, and the ``deepcopy`` in
``moto.dynamodb.parsing.validators`` is a stand-in that makes the copy of such a tree with
``pickle.loads`` (~0.03 ms, a new tree each time); anything else is ``copy.deepcopy`` as
before. A text that does not parse raises moto's error on every call and is not kept; a tree
that cannot be pickled is not kept either (moto's own parse and copy, as before). Everything
about the expression's meaning (validation against the item and the attribute names and
values, execution) is moto's, unchanged. ``install`` checks the moto source lines this relies
on (the validator copies the tree it is given) and refuses otherwise.

Why not ``functools.lru_cache`` on ``make`` alone: its tree would still be deep-copied by
the validator at full cost, and a moto that stopped copying would let one call's values leak
into the next; the check in ``install`` covers that, the pickle covers the cost.
"""

from __future__ import annotations

import copy
import functools
import logging
import pickle
import re
from typing import Any

from local_stack.moto_hooks import MotoHookNotFound, moto_source, require_source

log = logging.getLogger("local_stack.moto_expression_cache")

CACHE_SIZE = 512
PICKLE_ATTR = "_gameday_pickled"
REVIEW = "local_stack/moto_expression_cache.py"


def copy_tree(obj: Any, memo: dict[int, Any] | None = None) -> Any:
    """``deepcopy`` for moto's validators: a cached tree from its pickle, else deepcopy."""
    mark = getattr(obj, PICKLE_ATTR, None) if memo is None else None
    if type(mark) is tuple and mark[0] == id(obj):  # the cached tree itself, not a copy of it
        return pickle.loads(mark[1])
    return copy.deepcopy(obj, memo)


def _cached_parser(parser: type) -> type:
    @functools.lru_cache(maxsize=CACHE_SIZE)
    def parsed(expression: str) -> Any:
        tree = parser.make(expression)  # type: ignore[attr-defined]
        try:
            data = pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return None
        setattr(tree, PICKLE_ATTR, (id(tree), data))
        return tree

    class CachedUpdateExpressionParser(parser):  # type: ignore[misc, valid-type]
        """moto's parser, whose ``make`` answers from the cache of parsed texts."""

        original = parser
        cache = staticmethod(parsed)

        @classmethod
        def make(cls, expression: str) -> Any:
            tree = parsed(expression)
            return tree if tree is not None else parser.make(expression)  # type: ignore

    return CachedUpdateExpressionParser


def install() -> None:
    """Put the caching parser into moto's DynamoDB handler and backend modules and the tree
    copy into its validators (idempotent)."""
    try:
        import moto.dynamodb.models as models
        import moto.dynamodb.parsing.validators as validators
        import moto.dynamodb.responses as responses
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    except ImportError as exc:
        raise MotoHookNotFound(f"moto's DynamoDB modules moved: {exc}") from exc
    modules = (models, responses)
    current = {getattr(module, "UpdateExpressionParser", None) for module in modules}
    if all(getattr(c, "original", None) is UpdateExpressionParser for c in current):
        return  # installed already
    if current != {UpdateExpressionParser} or not callable(getattr(UpdateExpressionParser,
                                                                   "make", None)):
        raise MotoHookNotFound("moto's DynamoDB modules no longer use UpdateExpressionParser: "
                               "review local_stack/moto_expression_cache.py")
    for module in modules:
        require_source(module, "UpdateExpressionParser.make(", REVIEW)
    # The backend hands the tree only to the validator, which must copy it before writing.
    backend_source = moto_source(models.DynamoDBBackend.update_item)
    uses = backend_source.count("update_expression_ast")
    if uses < 2 or uses != 1 + len(re.findall(r"UpdateExpressionValidator\(\s*"
                                              r"update_expression_ast,", backend_source)):
        raise MotoHookNotFound("DynamoDBBackend.update_item uses the parsed tree other than "
                               "through UpdateExpressionValidator: review "
                               "local_stack/moto_expression_cache.py")
    require_source(validators.Validator.__init__,
                   "self.node_to_validate = deepcopy(expression)", REVIEW)
    if getattr(validators, "deepcopy", None) is not copy.deepcopy:
        raise MotoHookNotFound("moto.dynamodb.parsing.validators no longer imports deepcopy")
    cached = _cached_parser(UpdateExpressionParser)
    for module in modules:
        module.UpdateExpressionParser = cached  # type: ignore[attr-defined]
    validators.deepcopy = copy_tree  # type: ignore[attr-defined]
    log.info("moto DynamoDB: update expressions parsed once per text (LRU of %d)", CACHE_SIZE)


def uninstall() -> None:
    """Undo install() (tests compare with moto's own parser)."""
    import moto.dynamodb.models as models
    import moto.dynamodb.parsing.validators as validators
    import moto.dynamodb.responses as responses

    for module in (models, responses):
        original = getattr(module.UpdateExpressionParser, "original", None)
        if original is not None:
            module.UpdateExpressionParser = original
    validators.deepcopy = copy.deepcopy  # type: ignore[attr-defined]
