"""A Contributor Insights rule in CloudWatch's JSON rule syntax: parsed, checked, applied to one
log event. Pure (no I/O).

The syntax (CloudWatch user guide, "Contributor Insights rule syntax in CloudWatch"):

    {"Schema": {"Name": "CloudWatchLogRule", "Version": 1},
     "LogGroupNames": ["group", "prefix*"], "LogFormat": "JSON",
     "Contribution": {"Keys": ["$.ip"], "ValueOf": "$.requestBytes",
                      "Filters": [{"Match": "$.httpMethod", "In": ["PUT"]}]},
     "AggregateOn": "Sum"}

``Keys`` (1 to 4 fields) name a contributor; ``AggregateOn`` ``Count`` counts matching events,
``Sum`` adds the ``ValueOf`` field; every filter must match (at most 4, one operator each:
``In``, ``NotIn``, ``StartsWith``, ``GreaterThan``, ``LessThan``, ``EqualTo``,
``NotEqualTo``, ``IsPresent``); matching is case sensitive; a log group name may end in ``*``.

Not evaluated locally, refused with ``UnsupportedRule`` (valid on AWS): ``LogFormat`` CLF (with
its ``Fields``), ``LogGroupARNs``, managed (``ServiceLogRule``) rules, paths with array
indexes or wildcards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SCHEMA = {"Name": "CloudWatchLogRule", "Version": 1}
OPERATORS = ("In", "NotIn", "StartsWith", "GreaterThan", "LessThan", "EqualTo", "NotEqualTo",
             "IsPresent")
MAX_KEYS = 4
MAX_FILTERS = 4
_PATH = re.compile(r"^\$(\.[A-Za-z0-9_@-]+)+$")
_ABSENT = object()


class InvalidRule(ValueError):
    """A definition CloudWatch would refuse (the message says what)."""


class UnsupportedRule(InvalidRule):
    """Valid on AWS, not evaluated locally (the message says what)."""


def _path(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, str) or not value.startswith("$"):
        raise InvalidRule(f"{where}: {value!r} is not a JSON path like $.field")
    if not _PATH.match(value):
        raise UnsupportedRule(f"{where}: {value!r}: only dotted paths ($.a.b) locally")
    return tuple(value.split(".")[1:])


def _get(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class Filter:
    path: tuple[str, ...]
    operator: str
    operand: Any

    def matches(self, event: Mapping[str, Any]) -> bool:
        value = _get(event, self.path)
        if self.operator == "IsPresent":
            return (value is not _ABSENT) == bool(self.operand)
        if value is _ABSENT:
            return self.operator == "NotIn"
        if self.operator == "In":
            return value in self.operand
        if self.operator == "NotIn":
            return value not in self.operand
        if self.operator == "StartsWith":
            return isinstance(value, str) and any(value.startswith(p) for p in self.operand)
        number = _number(value)
        if number is None:
            return False
        return {"GreaterThan": number > self.operand, "LessThan": number < self.operand,
                "EqualTo": number == self.operand,
                "NotEqualTo": number != self.operand}[self.operator]


@dataclass(frozen=True)
class InsightRule:
    """One rule: which log groups, which events, which contributor, what value."""

    name: str
    log_groups: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]
    filters: tuple[Filter, ...]
    aggregate_on: str  # Count | Sum
    value_of: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, name: str, definition: str | Mapping[str, Any]) -> InsightRule:
        """From the rule body (JSON text or object); InvalidRule / UnsupportedRule say why
        not."""
        if isinstance(definition, str):
            try:
                body = json.loads(definition)
            except json.JSONDecodeError as exc:
                raise InvalidRule(f"{name}: the definition is not JSON: {exc}") from exc
        else:
            body = dict(definition)
        if not isinstance(body, dict):
            raise InvalidRule(f"{name}: the definition is not a JSON object")
        if body.get("Schema") != SCHEMA:
            raise UnsupportedRule(f"{name}: Schema must be {SCHEMA} (managed rules are not "
                                  "evaluated locally)")
        if body.get("LogGroupARNs"):
            raise UnsupportedRule(f"{name}: LogGroupARNs (cross-account) is not evaluated "
                                  "locally; use LogGroupNames")
        groups = body.get("LogGroupNames")
        if not (isinstance(groups, list) and groups and all(isinstance(g, str) and g
                                                            for g in groups)):
            raise InvalidRule(f"{name}: LogGroupNames must be a non-empty list of names")
        if body.get("LogFormat") != "JSON":
            raise UnsupportedRule(f"{name}: LogFormat {body.get('LogFormat')!r}: only JSON logs "
                                  "are evaluated locally")
        contribution = body.get("Contribution")
        if not isinstance(contribution, dict):
            raise InvalidRule(f"{name}: Contribution is missing")
        keys = contribution.get("Keys")
        if not (isinstance(keys, list) and 1 <= len(keys) <= MAX_KEYS):
            raise InvalidRule(f"{name}: Contribution.Keys must list 1 to {MAX_KEYS} fields")
        aggregate = body.get("AggregateOn")
        if aggregate not in ("Count", "Sum"):
            raise InvalidRule(f"{name}: AggregateOn must be Count or Sum, not {aggregate!r}")
        value_of = contribution.get("ValueOf")
        if aggregate == "Sum" and not value_of:
            raise InvalidRule(f"{name}: AggregateOn Sum needs Contribution.ValueOf")
        raw_filters = contribution.get("Filters") or []
        if not isinstance(raw_filters, list) or len(raw_filters) > MAX_FILTERS:
            raise InvalidRule(f"{name}: Contribution.Filters: at most {MAX_FILTERS} filters")
        filters = []
        for i, raw in enumerate(raw_filters):
            where = f"{name}: Filters[{i}]"
            ops = [k for k in raw if k != "Match"] if isinstance(raw, dict) else []
            if not isinstance(raw, dict) or "Match" not in raw or len(ops) != 1:
                raise InvalidRule(f"{where}: needs Match and exactly one operator")
            op = ops[0]
            if op not in OPERATORS:
                raise InvalidRule(f"{where}: unknown operator {op!r} (one of "
                                  f"{', '.join(OPERATORS)})")
            operand = raw[op]
            if op in ("In", "NotIn", "StartsWith") and not isinstance(operand, list):
                raise InvalidRule(f"{where}: {op} takes a list")
            if op in ("GreaterThan", "LessThan", "EqualTo", "NotEqualTo"):
                if _number(operand) is None:
                    raise InvalidRule(f"{where}: {op} takes a number")
                operand = _number(operand)
            if op == "IsPresent" and not isinstance(operand, bool):
                raise InvalidRule(f"{where}: IsPresent takes true or false")
            filters.append(Filter(_path(raw["Match"], where), op, operand))
        return cls(name=name, log_groups=tuple(groups),
                   keys=tuple(_path(k, f"{name}: Keys") for k in keys),
                   filters=tuple(filters), aggregate_on=aggregate,
                   value_of=_path(value_of, f"{name}: ValueOf") if value_of else None)

    def reads_group(self, group: str) -> bool:
        return any(group.startswith(g[:-1]) if g.endswith("*") else group == g
                   for g in self.log_groups)

    def contribution(self, event: Mapping[str, Any]) -> tuple[tuple[str, ...], float] | None:
        """(contributor keys, value) of one JSON log event, or None when the rule ignores it
        (a filter does not match, a key is absent, a Sum value is not a number)."""
        if not all(f.matches(event) for f in self.filters):
            return None
        keys = []
        for path in self.keys:
            value = _get(event, path)
            if value is _ABSENT or value is None:
                return None
            keys.append(value if isinstance(value, str) else json.dumps(value))
        if self.aggregate_on == "Count":
            return tuple(keys), 1.0
        assert self.value_of is not None
        number = _number(_get(event, self.value_of))
        return None if number is None else (tuple(keys), number)
