"""moto parses a ConditionExpression twice per conditional write: remember the parse.

A cost, not a behaviour (issue 11: the emulator's CPU per DynamoDB call). For a conditional
PutItem, UpdateItem or DeleteItem, and for each item of a TransactWriteItems, moto's handler
parses the ConditionExpression (to list the names and values it uses) and its backend parses the
same text with the same names and values again to evaluate it:
``ConditionExpressionParser.parse``, a regex tokenizer and seven passes over the tokens, ~0.1 ms
each time on this machine, ~13 % of the emulator's CPU in a loop of the inventory's reservation
transaction (py-spy). What ``parse`` returns depends on the text, the names and the values
only, and the tree it returns (moto's ``Op``, ``Func`` and ``Operand`` objects) is read, never
written, by whoever evaluates it: every attribute of those classes is set in their
``__init__``, which ``install`` checks in moto's source.

Here ``ConditionExpressionParser.parse`` answers from an LRU of ``CACHE_SIZE`` entries keyed on
(text, names, values as canonical JSON). A miss runs moto's own ``parse`` on a private parser
built from the key (so the tree refers to no request's dicts, which moto may go on using), and
keeps the tree with the names and values it found; every call gets its own lists of those
(moto's handlers extend them in place). A text that does not parse raises moto's error every
time and is not kept; names or values that are not plain JSON skip the cache. The handler's
parse and the backend's parse of one call share an entry, and a condition whose values repeat
(the shop's ``#s = :pending``, ``attribute_not_exists(TranId)``) is parsed once for all calls.
Query and Scan filter expressions go through the same parser and the same cache.

Why not ``functools.lru_cache``: names and values are dicts (unhashable), and the parser fills
its lists as a side effect that each caller must get afresh; the key is built here.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from local_stack.moto_hooks import MotoHookNotFound, moto_source, require_source

log = logging.getLogger("local_stack.moto_condition_cache")

CACHE_SIZE = 1024
REVIEW = "local_stack/moto_condition_cache.py"
_SELF_WRITE = re.compile(r"\bself\.\w+(\[[^\]]*\])?\s*(=(?!=)|\+=|-=|\.append\(|\.extend\()")

Key = tuple[str, tuple[tuple[str, str], ...], str]
Entry = tuple[Any, tuple[str, ...], tuple[str, ...]]


def cache_key(expression: str, names: Any, values: Any) -> Key | None:
    """(text, names, values as canonical JSON), or None when they are not plain JSON.

    No names and empty names are one key (moto's handler passes ``{}`` where its transaction
    code passes ``None``): a parse that succeeds used none of them either way, and a miss parses
    with the caller's own arguments, so an error is still the one moto raises for them."""
    try:
        names_key = tuple(sorted((str(k), str(v)) for k, v in (names or {}).items()))
        values_key = json.dumps(values or {}, sort_keys=True, separators=(",", ":"),
                                allow_nan=False)
    except (AttributeError, TypeError, ValueError):
        return None
    return expression, names_key, values_key


class ConditionCache:
    """The LRU of parsed conditions, shared by every thread of the emulator."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.misses = 0
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Key, entry: Entry) -> None:
        with self._lock:
            self.misses += 1
            self._entries[key] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.misses = 0


def _caching_parse(original: Callable[[Any], Any], cache: ConditionCache) -> Callable[[Any], Any]:
    def parse(self: Any) -> Any:
        expression = self.condition_expression
        key = cache_key(expression, self.expression_attribute_names,
                        self.expression_attribute_values) if expression else None
        if key is None:
            return original(self)
        entry = cache.get(key)
        if entry is None:
            names, values = self.expression_attribute_names, self.expression_attribute_values
            private = type(self)(expression,
                                 None if names is None else dict(key[1]),
                                 None if values is None else json.loads(key[2]))
            op = original(private)  # moto's own parse: raises as moto does, nothing kept
            entry = (op, tuple(private.expr_attr_names_found),
                     tuple(private.expr_attr_values_found))
            cache.put(key, entry)
        op, names_found, values_found = entry
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return op

    parse.original = original  # type: ignore[attr-defined]
    parse.cache = cache  # type: ignore[attr-defined]
    return parse


def written_outside_init(module: Any, base_names: tuple[str, ...] = ("Op", "Func", "Operand")
                         ) -> list[str]:
    """`Class.method` of the evaluation classes in `module` (those derived from `base_names`)
    whose source assigns to or grows an attribute of ``self`` outside ``__init__``."""
    bases = tuple(getattr(module, name) for name in base_names)
    found = []
    for name, cls in vars(module).items():
        if not (inspect.isclass(cls) and issubclass(cls, bases)
                and cls.__module__ == module.__name__):
            continue
        for attr, member in vars(cls).items():
            if attr != "__init__" and inspect.isfunction(member) and _SELF_WRITE.search(
                    moto_source(member)):
                found.append(f"{name}.{attr}")
    return found


def install() -> None:
    """Put the caching ``parse`` on moto's ConditionExpressionParser (idempotent)."""
    try:
        from moto.dynamodb import comparisons
    except ImportError as exc:
        raise MotoHookNotFound(f"moto.dynamodb.comparisons moved: {exc}") from exc
    parser = getattr(comparisons, "ConditionExpressionParser", None)
    current = getattr(parser, "parse", None)
    if getattr(current, "original", None) is not None:
        return  # installed already
    if parser is None or not callable(current) or not all(
            hasattr(comparisons, name) for name in ("Op", "Func", "Operand")):
        raise MotoHookNotFound(f"moto's ConditionExpressionParser, Op, Func or Operand is "
                               f"gone: review {REVIEW}")
    if list(inspect.signature(parser.__init__).parameters)[1:] != [
            "condition_expression", "expression_attribute_names",
            "expression_attribute_values"]:
        raise MotoHookNotFound(f"ConditionExpressionParser's arguments changed: review {REVIEW}")
    for needle in ("self.expr_attr_names_found.extend(", "self.expr_attr_values_found.extend(",
                   "return op"):
        require_source(current, needle, REVIEW)
    for needle in ("self.expr_attr_names_found: list[str] = []",
                   "self.expr_attr_values_found: list[str] = []"):
        require_source(parser.__init__, needle, REVIEW)
    writers = written_outside_init(comparisons)
    if writers:
        raise MotoHookNotFound(f"moto's condition classes write to themselves outside "
                               f"__init__ ({', '.join(writers)}): a shared tree is not safe; "
                               f"review {REVIEW}")
    parser.parse = _caching_parse(current, ConditionCache())
    log.info("moto DynamoDB: condition expressions parsed once per text, names and values "
             "(LRU of %d)", CACHE_SIZE)


def installed_cache() -> ConditionCache | None:
    """The cache in use, or None when not installed."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    return getattr(ConditionExpressionParser.parse, "cache", None)


def uninstall() -> None:
    """Undo install() (tests compare with moto's own parser)."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = getattr(ConditionExpressionParser.parse, "original", None)
    if original is not None:
        ConditionExpressionParser.parse = original  # type: ignore[method-assign]
