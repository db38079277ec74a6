"""Experiment files: the defaults validate; errors name the exact line and column; the dry-run
plan resolves targets with the seed and touches nothing."""

from __future__ import annotations

import json

import pytest

from chaos.context import ChaosContext
from chaos.experiments import default_experiments
from chaos.ledger import Ledger
from chaos.runner.plan import build_plan, format_plan
from chaos.spec.loader import InvalidExperiment, load_file, load_text
from tests.chaos.conftest import FakeStack

MINIMAL = """\
version: 1
title: minimal
steady-state-hypothesis:
  title: up
  probes:
    - name: healthy
      probe: http
      params: {url: storefront, path: /health}
      tolerance: {equals: 200}
method:
  - type: fault
    name: kill
    fault: kill-replica
    target: COUNT(1)
    params: {service: payments}
    duration: 5s
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(InvalidExperiment) as raised:
        load_text(text, "exp.yaml")
    return [str(e) for e in raised.value.errors]


def test_default_experiments_validate_and_define_controls() -> None:
    files = default_experiments()
    assert len(files) >= 5
    for path in files:
        experiment = load_file(path)
        assert experiment.data.get("control"), f"{path.name} has no negative control"
        assert experiment.data.get("verdicts"), f"{path.name} has no verdicts"


def test_minimal_is_valid() -> None:
    assert load_text(MINIMAL).title == "minimal"


@pytest.mark.parametrize("old, new, expected", [
    ("duration: 5s", "duration: 5 seconds",
     "exp.yaml:16:15: method[0].duration: '5 seconds' is not a duration"),
    ("target: COUNT(1)", "target: SOME(1)",
     "exp.yaml:14:13: method[0].target: 'SOME(1)' is not a target selection"),
    ("    duration: 5s\n", "    duration: 5s\n    colour: red\n",
     "exp.yaml:17:5: method[0].colour: unknown key 'colour'"),
    ("fault: kill-replica", "fault: kill-replicas",
     "exp.yaml:13:12: method[0].fault: unknown fault 'kill-replicas'"),
    ("params: {service: payments}", "params: {service: database}",
     "exp.yaml:15:13: method[0].params: kill-replica needs service in"),
    ("probe: http", "probe: htp", "exp.yaml:7:14: steady-state-hypothesis.probes[0].probe: "
                                  "unknown probe 'htp'"),
    ("params: {url: storefront, path: /health}", "params: {url: storefront, pth: /health}",
     "exp.yaml:8:33: steady-state-hypothesis.probes[0].params.pth: probe http does not take"),
    ("version: 1\n", "version: 2\n", "exp.yaml:1:10: version: 1 was expected"),
    ("  - type: fault\n    name: kill\n", "  - type: fault\n",
     "exp.yaml:11:5: method[0]: 'name' is a required property"),
    ("title: minimal\n", "title: minimal\ntitle: again\n", "exp.yaml:3:1: title: duplicate key"),
])
def test_errors_point_at_line_and_column(old: str, new: str, expected: str) -> None:
    assert old in MINIMAL
    errors = _errors(MINIMAL.replace(old, new, 1))
    assert any(e.startswith(expected) for e in errors), errors


def test_yaml_syntax_error_has_a_position() -> None:
    errors = _errors("version: 1\ntitle: [unclosed\n")
    assert errors[0].startswith("exp.yaml:3:1: YAML:")
    assert "line 2, column 8" in errors[0]


def test_verdict_needs_a_bound_and_a_known_metric() -> None:
    text = MINIMAL + "verdicts:\n  - metric: orders_lost\n  - metric: nope\n    max: 1\n"
    errors = _errors(text)
    assert any(e.startswith("exp.yaml:18:5: verdicts[0]: a verdict needs a bound")
               for e in errors), errors
    assert any(e.startswith("exp.yaml:19:13: verdicts[1].metric: unknown metric 'nope'")
               for e in errors), errors


def test_dry_plan_resolves_targets_deterministically(fake_stack: FakeStack) -> None:
    experiment = load_text(MINIMAL)
    ctx = ChaosContext.load(fake_stack.state_dir)
    first = build_plan(experiment, ctx, seed=5)
    second = build_plan(experiment, ctx, seed=5)
    assert first["steps"][0]["targets"] == second["steps"][0]["targets"]
    assert len(first["steps"][0]["targets"]) == 1
    text = format_plan(first)
    assert "candidates: payments-1, payments-2" in text
    assert "SIGKILL " + first["steps"][0]["targets"][0] in text
    # nothing was touched
    assert all(c.poll() is None for c in fake_stack.children)
    assert not Ledger(fake_stack.state_dir).exists()
    assert not list((fake_stack.state_dir / "holds").iterdir())


def test_dry_plan_without_a_stack_says_when_targets_resolve() -> None:
    plan = build_plan(load_text(MINIMAL), None, seed=5)
    assert "targets resolved at run time" in format_plan(plan)
    control = load_file(next(p for p in default_experiments() if p.name == "poison-record.yaml"))
    text = format_plan(build_plan(control, None, seed=1, control=True))
    assert "esm-update" in text.splitlines()[4] or "bisect-and-onfailure-off" in text
    json.dumps(build_plan(control, None, seed=1, control=True))  # the plan is JSON-able


def test_expect_failing_must_name_a_check() -> None:
    text = MINIMAL + ("control:\n  description: protection switched off\n"
                      "  expect-failing: [healthy, nope]\n")
    errors = _errors(text)
    assert errors == ["exp.yaml:19:29: control.expect-failing[1]: 'nope' is neither a verdict "
                      "metric nor a probe step of this experiment"]
