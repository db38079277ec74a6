"""moto parses an UpdateExpression once per use, twice per UpdateItem: remember the parse.

A cost, not a behaviour (issue 11: the emulator's CPU per DynamoDB call). moto builds the
syntax tree of an UpdateExpression with its own tokenizer and recursive-descent parser, in
``DynamoHandler.update_item`` (to list the names and values used) and again in
``DynamoDBBackend.update_item`` (to validate and execute it); a TransactWriteItems ``Update``
is parsed in the handler and again in the backend. The shop sends a handful of distinct
expressions (its placeholders carry the values), so the same few texts are parsed again and
again: ~0.2 ms of CPU each on this machine, under the emulator's DynamoDB lock.

Here ``UpdateExpressionParser`` in those two moto modules is a stand-in whose ``make`` keeps
the pickled tree of each expression text it parsed (an LRU of ``CACHE_SIZE`` texts) and hands
out ``pickle.loads`` of it: a fresh tree each time (~0.03 ms), because moto's validator
rewrites the tree it is given in place. A text that does not parse raises moto's error on
every call and is not kept; a tree that cannot be pickled is handed out as parsed, uncached.
Everything else about the expression (validation against the item and the attribute names
and values, execution) is moto's, unchanged.

Why not ``functools.lru_cache`` on ``make`` alone: it would hand the same tree to every call,
and the validator's in-place rewrite would leak one call's values into the next.
"""

from __future__ import annotations

import functools
import inspect
import logging
import pickle
from typing import Any

log = logging.getLogger("local_stack.moto_expression_cache")

CACHE_SIZE = 512
_UNPICKLABLE = b""


class MotoHookNotFound(RuntimeError):
    """moto no longer parses update expressions where this module expects it."""


def _cached_parser(parser: type) -> type:
    @functools.lru_cache(maxsize=CACHE_SIZE)
    def pickled(expression: str) -> bytes:
        tree = parser.make(expression)  # type: ignore[attr-defined]
        try:
            return pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return _UNPICKLABLE

    class CachedUpdateExpressionParser(parser):  # type: ignore[misc, valid-type]
        """moto's parser, whose ``make`` answers from the cache of parsed texts."""

        original = parser
        cache = staticmethod(pickled)

        @classmethod
        def make(cls, expression: str) -> Any:
            data = pickled(expression)
            if data is _UNPICKLABLE:
                return parser.make(expression)  # type: ignore[attr-defined]
            return pickle.loads(data)

    return CachedUpdateExpressionParser


def install() -> None:
    """Put the caching parser into moto's DynamoDB handler and backend modules (idempotent)."""
    try:
        import moto.dynamodb.models as models
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
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError) as exc:
            raise MotoHookNotFound(f"cannot read moto's source of {module.__name__}") from exc
        if "UpdateExpressionParser.make(" not in source:
            raise MotoHookNotFound(f"{module.__name__} no longer calls "
                                   "UpdateExpressionParser.make: review "
                                   "local_stack/moto_expression_cache.py")
    cached = _cached_parser(UpdateExpressionParser)
    for module in modules:
        module.UpdateExpressionParser = cached  # type: ignore[attr-defined]
    log.info("moto DynamoDB: update expressions parsed once per text (LRU of %d)", CACHE_SIZE)


def uninstall() -> None:
    """Undo install() (tests compare with moto's own parser)."""
    import moto.dynamodb.models as models
    import moto.dynamodb.responses as responses

    for module in (models, responses):
        original = getattr(module.UpdateExpressionParser, "original", None)
        if original is not None:
            module.UpdateExpressionParser = original
