"""Load an experiment file, validate it, and say exactly where each error is.

PyYAML's compose() gives every node its start mark; walking the node tree records the line and
column of every key and value by path, so a schema error at `method[2].duration` is reported
as `file.yaml:14:17: method[2].duration: ...`. Beyond the schema, names are checked against
the registries (faults, probes, actions, verdict metrics) and each fault's parameters against
the fault itself (its normalize()), all pointing at the offending node.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from chaos.exceptions import InvalidExperiment, SpecError, UnknownName
from chaos.spec.schema import EXPERIMENT_SCHEMA
from chaos.spec.sections import (
    ControlConfig,
    ErrorBudget,
    LoadConfig,
    ObserveConfig,
    StopConditions,
)
from chaos.variables import has_references

PathT = tuple[str | int, ...]


@dataclass
class Experiment:
    """A validated experiment: the data as plain Python, where it came from, and its
    sections as typed config (built once, here)."""

    path: Path
    data: dict[str, Any]
    load: LoadConfig = field(init=False)
    observe: ObserveConfig = field(init=False)
    stop_conditions: StopConditions = field(init=False)
    error_budget: ErrorBudget = field(init=False)
    control: ControlConfig = field(init=False)

    def __post_init__(self) -> None:
        self.load = LoadConfig.from_spec(self.data.get("load"))
        self.observe = ObserveConfig.from_spec(self.data.get("observe"))
        self.stop_conditions = StopConditions.from_spec(self.data.get("stop-conditions"))
        self.error_budget = ErrorBudget.from_spec(self.data.get("error-budget"))
        self.control = ControlConfig.from_spec(self.data.get("control"))

    @property
    def title(self) -> str:
        return str(self.data["title"])

    def for_target(self, target: str) -> Experiment:
        """This experiment as it runs on `target`: its `per-target` bounds applied
        (chaos.spec.targets); itself, unchanged, where the target has none."""
        from chaos.spec.targets import for_target, overridden

        if not overridden(self.data, target):
            return self
        return Experiment(path=self.path, data=for_target(self.data, target))


def format_path(path: PathT) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Positions:
    """Line/column (1-based) of every value and every mapping key, by path."""

    def __init__(self) -> None:
        self.values: dict[PathT, tuple[int, int]] = {}
        self.keys: dict[PathT, tuple[int, int]] = {}
        self.duplicates: list[tuple[PathT, tuple[int, int]]] = []

    def walk(self, node: yaml.Node, path: PathT = ()) -> None:
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in seen:
                    self.duplicates.append((path + (key,), mark))
                seen.add(key)
                self.keys[path + (key,)] = mark
                self.walk(value_node, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, path + (index,))

    def of(self, path: PathT, key: bool = False) -> tuple[int, int]:
        """The position of `path` (its key when `key`), else of its nearest ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))


def _parse(text: str, name: str) -> tuple[Any, _Positions]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InvalidExperiment([SpecError(name, 1, 1, "", "the file is empty")])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        opened = exc.context_mark
        if opened is not None and mark is not None and opened.line != mark.line:
            problem += f" (the construct opened at line {opened.line + 1}, column " \
                       f"{opened.column + 1})"
        raise InvalidExperiment([SpecError(name, line, col, "", f"YAML: {problem}")]) from exc
    finally:
        loader.dispose()
    positions = _Positions()
    positions.walk(node)
    return data, positions


def _schema_errors(data: Any, positions: _Positions, name: str) -> Iterator[SpecError]:
    validator = Draft202012Validator(EXPERIMENT_SCHEMA)
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        yield from _explain(error, positions, name)


def _explain(error: ValidationError, positions: _Positions, name: str) -> Iterator[SpecError]:
    path: PathT = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set((error.schema.get("properties") or {}).keys())
        for extra in sorted(set(error.instance) - allowed):
            line, col = positions.of(path + (extra,), key=True)
            hint = f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""
            yield SpecError(name, line, col, format_path(path + (extra,)),
                            f"unknown key {extra!r}{hint}")
        return
    if error.validator == "required":
        line, col = positions.of(path)
        yield SpecError(name, line, col, format_path(path), error.message)
        return
    if str(error.schema.get("description", "")).startswith("a duration"):
        message = f"{error.instance!r} is not a duration (use e.g. 30s, 500ms, 2m)"
    elif error.validator == "pattern" and path and path[-1] == "target":
        message = f"{error.instance!r} is not a target selection (ALL, COUNT(n), PERCENT(n))"
    elif error.validator in ("anyOf", "oneOf") and error.context:
        message = min(error.context, key=lambda e: len(e.message)).message
    else:
        message = error.message
    line, col = positions.of(path)
    yield SpecError(name, line, col, format_path(path), message)


def _steps(data: dict[str, Any]) -> Iterator[tuple[PathT, dict[str, Any]]]:
    for key in ("method", "rollbacks"):
        for i, step in enumerate(data.get(key) or []):
            yield (key, i), step
    for i, step in enumerate((data.get("control") or {}).get("before-method") or []):
        yield ("control", "before-method", i), step
    hypothesis = data.get("steady-state-hypothesis") or {}
    for key in ("probes", "after"):
        for i, step in enumerate(hypothesis.get(key) or []):
            yield ("steady-state-hypothesis", key, i), {"type": "probe", **step}
    for i, step in enumerate((data.get("stop-conditions") or {}).get("guards") or []):
        yield ("stop-conditions", "guards", i), {"type": "probe", **step}


def _semantic_errors(data: dict[str, Any], positions: _Positions, name: str
                     ) -> Iterator[SpecError]:
    from chaos.actions import ACTIONS
    from chaos.faults import FAULTS
    from chaos.probes.catalog import PROBES
    from chaos.verdicts import METRICS

    def err(path: PathT, message: str, key: bool = False) -> SpecError:
        line, col = positions.of(path, key=key)
        return SpecError(name, line, col, format_path(path), message)

    names: dict[str, PathT] = {}
    for path, step in _steps(data):
        step_name = step.get("name")
        if isinstance(step_name, str) and not path[0].startswith("steady"):
            if step_name in names and path[0] != "stop-conditions":
                yield err(path + ("name",), f"step name {step_name!r} is already used at "
                          f"{format_path(names[step_name])}")
            names.setdefault(step_name, path)
        kind = step.get("type")
        if kind == "fault":
            try:
                fault = FAULTS.get(step.get("fault", ""))
            except UnknownName as exc:
                yield err(path + ("fault",), str(exc))
                continue
            params = step.get("params") or {}
            if has_references(params):
                continue  # filled in at run time
            try:
                fault.normalize(dict(params))
            except ValueError as exc:
                yield err(path + ("params",) if "params" in step else path, str(exc))
        elif kind == "action":
            if step.get("action") not in ACTIONS:
                yield err(path + ("action",), str(ACTIONS.unknown(step.get("action"))))
        elif kind == "probe":
            try:
                probe = PROBES.get(step.get("probe", ""))
            except UnknownName as exc:
                yield err(path + ("probe",), str(exc))
                continue
            params = step.get("params") or {}
            missing = sorted(probe.required - set(params))
            if missing:
                yield err(path + ("params",) if "params" in step else path,
                          f"probe {probe.name} needs {', '.join(missing)}")
            unknown = sorted(set(params) - probe.required - probe.optional)
            for key in unknown:
                yield err(path + ("params", key), f"probe {probe.name} does not take {key!r}",
                          key=True)
    checks = {v.get("metric") for v in data.get("verdicts") or []} | {
        step.get("name") for path, step in _steps(data) if step.get("type") == "probe"}
    control = data.get("control") or {}
    for i, item in enumerate(control.get("expect-failing") or []):
        if item not in checks:
            yield err(("control", "expect-failing", i), f"{item!r} is neither a verdict "
                      "metric nor a probe step of this experiment")
    for i, verdict in enumerate(data.get("verdicts") or []):
        if verdict.get("metric") not in METRICS:
            yield err(("verdicts", i, "metric"), str(METRICS.unknown(verdict.get("metric"))))
        if not any(k in verdict for k in ("equals", "in", "min", "max")):
            yield err(("verdicts", i), "a verdict needs a bound: equals, in, min or max")


def load_text(text: str, name: str = "<experiment>") -> Experiment:
    """Parse and validate; InvalidExperiment lists every error with line and column."""
    data, positions = _parse(text, name)
    errors = [SpecError(name, line, col, format_path(path), f"duplicate key {path[-1]!r}")
              for path, (line, col) in positions.duplicates]
    if not isinstance(data, dict):
        raise InvalidExperiment([SpecError(name, 1, 1, "", "an experiment is a mapping")])
    errors += list(_schema_errors(data, positions, name))
    if not errors:
        errors += list(_semantic_errors(data, positions, name))
    if errors:
        raise InvalidExperiment(errors)
    return Experiment(path=Path(name), data=data)


def load_file(path: str | Path) -> Experiment:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidExperiment([SpecError(str(path), 1, 1, "", f"cannot read: {exc}")]) from exc
    experiment = load_text(text, str(path))
    experiment.path = path
    return experiment
