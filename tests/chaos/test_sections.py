"""The experiment's sections as typed config: built once at load, defaults defined once."""

from __future__ import annotations

from chaos.experiments import default_experiments
from chaos.spec.loader import load_file, load_text
from chaos.spec.sections import ControlConfig, LoadConfig, ObserveConfig, StopConditions

TEXT = """\
version: 1
title: typed
load: {driver: builtin, users: 5, warmup-timeout: 45, think-time: 100ms}
observe: {interval: 1s, breakers: [payments], iterator-age: [shop-inventory]}
steady-state-hypothesis:
  title: up
  probes:
    - {name: up, probe: http, tolerance: {equals: 200}}
method:
  - {type: pause, duration: 1s}
stop-conditions:
  guards:
    - {name: up, probe: http, tolerance: {equals: 200}}
control:
  description: the protection switched off
  stack: {args: [--no-breaker]}
  expect-failing: [up]
"""


def test_sections_are_read_once_with_their_defaults() -> None:
    experiment = load_text(TEXT)
    load = experiment.load
    assert (load.driver, load.users, load.runs) == ("builtin", 5, True)
    assert (load.warmup_timeout.seconds, str(load.warmup_timeout)) == (45.0, "45")
    assert load.think_time.seconds == 0.1
    assert load.settle_timeout == LoadConfig().settle_timeout  # the default, from one place
    assert str(LoadConfig().settle_timeout) == "30s" and LoadConfig().users == 3
    assert experiment.observe.interval.seconds == 1.0
    assert experiment.observe.targets() == {"breakers": ["payments"], "alarms": [],
                                            "iterator-age": ["shop-inventory"], "services": []}
    assert experiment.stop_conditions.interval.seconds == 1.0
    assert [g["name"] for g in experiment.stop_conditions.guards] == ["up"]
    assert experiment.control.stack_args == ("--no-breaker",)
    assert experiment.control.expect_failing == ("up",)


def test_absent_sections_are_the_defaults() -> None:
    assert LoadConfig.from_spec(None) == LoadConfig() and not LoadConfig().runs
    assert ObserveConfig.from_spec({}) == ObserveConfig()
    assert StopConditions.from_spec(None) == StopConditions()
    assert ControlConfig.from_spec(None) == ControlConfig()


def test_the_default_experiments_build_their_sections() -> None:
    for path in default_experiments():
        experiment = load_file(path)
        assert experiment.load.runs
        assert experiment.control.description
