"""Target selection: parsing, determinism (same candidates + seed = same targets, whatever the
order the candidates came in), and the errors users see."""

from __future__ import annotations

import pytest

from chaos.targets import Selection, TargetSelectionError

CANDIDATES = [f"replica-{i}" for i in range(1, 11)]


@pytest.mark.parametrize("text, mode, value", [
    ("ALL", "ALL", None), ("COUNT(3)", "COUNT", 3), ("percent(50)", "PERCENT", 50),
    (" COUNT(1) ", "COUNT", 1), ("PERCENT(100)", "PERCENT", 100),
])
def test_parse(text: str, mode: str, value: int | None) -> None:
    selection = Selection.parse(text)
    assert (selection.mode, selection.value) == (mode, value)
    assert Selection.parse(str(selection)) == selection


@pytest.mark.parametrize("text", ["SOME", "COUNT", "COUNT(0)", "PERCENT(0)", "PERCENT(101)",
                                  "ALL(2)", "COUNT(-1)", ""])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(TargetSelectionError):
        Selection.parse(text)


def test_same_seed_same_targets_in_any_candidate_order() -> None:
    selection = Selection.parse("COUNT(3)")
    first = selection.choose(CANDIDATES, seed=42)
    assert selection.choose(list(reversed(CANDIDATES)), seed=42) == first
    assert selection.choose(CANDIDATES, seed=42) == first
    assert len(first) == 3 and set(first) <= set(CANDIDATES)


def test_different_seeds_spread_over_candidates() -> None:
    chosen = {tuple(Selection.parse("COUNT(1)").choose(CANDIDATES, seed)) for seed in range(50)}
    assert len(chosen) > 5


def test_all_and_percent_rounding() -> None:
    assert Selection.parse("ALL").choose(CANDIDATES, 1) == sorted(CANDIDATES)
    assert len(Selection.parse("PERCENT(25)").choose(CANDIDATES, 1)) == 3  # ceil(2.5)
    assert len(Selection.parse("PERCENT(1)").choose(["a", "b"], 1)) == 1  # never zero


def test_not_enough_candidates() -> None:
    with pytest.raises(TargetSelectionError, match="only 2"):
        Selection.parse("COUNT(3)").choose(["a", "b"], 1)
    with pytest.raises(TargetSelectionError, match="no candidates"):
        Selection.parse("ALL").choose([], 1)
