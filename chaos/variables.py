"""`${name}` / `${name.path}` in step parameters, filled from values saved by earlier steps
(`save-as`). A whole-string reference keeps the value's type; inside text it is formatted."""

from __future__ import annotations

import re
from typing import Any

from chaos.exceptions import UnresolvedVariable
from chaos.verdicts import dig

_REF = re.compile(r"\$\{([A-Za-z_][\w.-]*)\}")


def _lookup(name: str, values: dict[str, Any]) -> Any:
    head, _, rest = name.partition(".")
    if head not in values:
        raise UnresolvedVariable(f"${{{name}}}: no step saved {head!r} (use save-as)")
    value = dig(values[head], rest or None)
    if value is None:
        raise UnresolvedVariable(f"${{{name}}}: {head!r} has no {rest!r}")
    return value


def substitute(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), values)
        return _REF.sub(lambda m: str(_lookup(m.group(1), values)), value)
    if isinstance(value, dict):
        return {k: substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    return value


def has_references(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_REF.search(value))
    if isinstance(value, dict):
        return any(has_references(v) for v in value.values())
    if isinstance(value, list):
        return any(has_references(v) for v in value)
    return False
