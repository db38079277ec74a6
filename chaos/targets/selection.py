"""Fault target selection: ALL, COUNT(n) or PERCENT(n) of the candidates, chosen with a seeded
random.Random so a run can be replayed exactly (same candidates + same seed = same targets).

Candidates are sorted before sampling, so the order in which a probe listed them (state file,
AWS API pages) does not change the choice.
"""

from __future__ import annotations

import math
import random
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from chaos.exceptions import TargetSelectionError

SELECTION_PATTERN = r"^(ALL|COUNT\([1-9][0-9]*\)|PERCENT\(([1-9][0-9]?|100)\))$"
_PARSE = re.compile(r"^(ALL|COUNT|PERCENT)(?:\((\d+)\))?$")


@dataclass(frozen=True)
class Selection:
    """A parsed selection: mode ALL | COUNT | PERCENT and its number."""

    mode: str
    value: int | None = None

    @classmethod
    def parse(cls, text: str) -> Selection:
        match = _PARSE.match(text.strip().upper())
        if not match:
            raise TargetSelectionError(
                f"{text!r} is not a target selection (use ALL, COUNT(n) or PERCENT(n))"
            )
        mode, number = match.group(1), match.group(2)
        if mode == "ALL":
            if number is not None:
                raise TargetSelectionError(f"{text!r}: ALL takes no number")
            return cls("ALL")
        if number is None:
            raise TargetSelectionError(f"{text!r}: {mode} needs a number, e.g. {mode}(1)")
        value = int(number)
        if value < 1 or (mode == "PERCENT" and value > 100):
            raise TargetSelectionError(
                f"{text!r}: COUNT needs n >= 1, PERCENT needs 1 <= n <= 100"
            )
        return cls(mode, value)

    def __str__(self) -> str:
        return self.mode if self.mode == "ALL" else f"{self.mode}({self.value})"

    def how_many(self, available: int) -> int:
        """How many targets this selection takes out of `available`."""
        if self.mode == "ALL":
            return available
        if self.mode == "COUNT":
            assert self.value is not None
            if self.value > available:
                raise TargetSelectionError(
                    f"{self}: only {available} candidate(s) available"
                )
            return self.value
        assert self.value is not None
        return max(1, math.ceil(available * self.value / 100)) if available else 0

    def choose(self, candidates: Sequence[str], seed: int) -> list[str]:
        """The chosen targets, in sorted order; TargetSelectionError when there are none."""
        pool = sorted(set(candidates))
        if not pool:
            raise TargetSelectionError(f"{self}: no candidates to choose from")
        count = self.how_many(len(pool))
        if count == len(pool):
            return pool
        return sorted(random.Random(seed).sample(pool, count))


def new_seed() -> int:
    """A fresh seed, printed and stored so the run can be replayed with --seed."""
    return secrets.randbelow(2**31)
