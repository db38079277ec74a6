"""One registry shape for faults, probes, actions and verdict metrics: an unknown name is
refused with the known ones listed, the same way in code and in the experiment validator."""

from __future__ import annotations

import pytest

from chaos.actions import ACTIONS
from chaos.exceptions import ChaosError, UnknownName
from chaos.faults import FAULTS, get_fault
from chaos.probes.catalog import PROBES
from chaos.registry import Registry
from chaos.spec.loader import InvalidExperiment, load_text
from chaos.verdicts import METRICS, compute


def test_an_unknown_name_is_named_with_the_known_ones() -> None:
    colours: Registry[int] = Registry("colour")
    colours.register("red", 1)
    colours.register("blue", 2)
    assert colours.get("red") == 1 and colours["blue"] == 2
    with pytest.raises(UnknownName) as caught:
        colours.get("green")
    assert str(caught.value) == "unknown colour 'green' (known: blue, red)"
    # one error for every kind of caller: the chaos base, a missing key, a bad input value
    assert isinstance(caught.value, ChaosError | KeyError | ValueError)
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)


def test_a_name_is_registered_once() -> None:
    colours: Registry[int] = Registry("colour")

    @colours.registers("red")
    def red() -> int:
        return 1

    assert "red" in colours and list(colours) == ["red"] and len(colours) == 1
    with pytest.raises(ValueError, match="colour 'red' is registered twice"):
        colours.register("red", 2)
    assert {"not": "a name"} not in colours  # an unhashable value from a file is no name


@pytest.mark.parametrize(("registry", "kind", "known"), [
    (FAULTS, "fault", "kill-replica"), (PROBES, "probe", "breaker"),
    (ACTIONS, "action", "place-order"), (METRICS, "metric", "error_rate"),
])
def test_the_four_catalogs_are_registries(registry: Registry[object], kind: str,
                                          known: str) -> None:
    assert known in registry
    with pytest.raises(UnknownName, match=rf"^unknown {kind} 'nope' \(known: .*{known}"):
        registry.get("nope")


def test_lookups_by_name_share_the_message() -> None:
    with pytest.raises(ValueError, match="unknown fault 'nope'"):
        get_fault("nope")
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        compute("nope", None)  # type: ignore[arg-type]


def test_the_validator_names_an_unknown_action_with_the_known_ones() -> None:
    text = """\
version: 1
title: unknown action
steady-state-hypothesis:
  title: up
  probes:
    - {name: up, probe: http, tolerance: {equals: 200}}
method:
  - {type: action, name: go, action: teleport}
"""
    with pytest.raises(InvalidExperiment) as caught:
        load_text(text, "exp.yaml")
    assert [str(e) for e in caught.value.errors] == [
        "exp.yaml:8:38: method[0].action: " + str(ACTIONS.unknown("teleport"))]
    assert "known: cleanup, create-shopper" in str(caught.value)
