"""Which experiments a game day runs, and with which seeds.

Names are the file stems of `chaos/experiments/*.yaml` (`payments-breaker`, ...). `--quick`
keeps the two short ones that still exercise a breaker and a replacement; `--experiments`
picks any, in the order given. The full game day runs them by name, except those listed in
`RUN_LAST`, which go last in that order. One game-day seed derives every other seed (the
catalog, the Locust users, each experiment's targets), so `--seed N` replays the same game
day.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable
from pathlib import Path

from chaos.experiments import DIRECTORY

QUICK = ("payments-breaker", "storefront-replica-killed")
# poison-record's detector (the stuck-correlation-ID alarm, per-minute data) must be quiet when
# it starts; a stuck record in inventory-lambda-errors or payments-breaker keeps it in ALARM for
# up to two minutes after, so it waits less when the others ran in between.
RUN_LAST = ("poison-record",)


class UnknownExperiment(ValueError):
    """A name that is not one of the experiment files; the message lists the valid ones."""


def available(directory: Path = DIRECTORY) -> dict[str, Path]:
    """{stem: path} of every experiment file, sorted by name."""
    return {p.stem: p for p in sorted(directory.glob("*.yaml"))}


def parse_names(values: Iterable[str]) -> list[str]:
    """`--experiments a,b --experiments c` → [a, b, c] (duplicates dropped, order kept;
    `.yaml` suffixes tolerated)."""
    names: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().removesuffix(".yaml")
            if name and name not in names:
                names.append(name)
    return names


def select(names: list[str] | None, quick: bool, directory: Path = DIRECTORY
           ) -> list[tuple[str, Path]]:
    """The experiments to run: `names` if given, else the quick set or all of them."""
    catalog = available(directory)
    if not catalog:
        raise UnknownExperiment(f"no experiment files in {directory}")
    if names:
        unknown = [n for n in names if n not in catalog]
        if unknown:
            raise UnknownExperiment(
                f"unknown experiment{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(n) for n in unknown)}; valid names: {', '.join(catalog)}")
        return [(n, catalog[n]) for n in names]
    if quick:
        chosen = [n for n in QUICK if n in catalog] or list(catalog)[:2]
        return [(n, catalog[n]) for n in chosen]
    last = [n for n in RUN_LAST if n in catalog]
    return [(n, p) for n, p in catalog.items() if n not in last] + [(n, catalog[n]) for n in last]


def new_seed() -> int:
    """A fresh game-day seed (printed, so the run can be replayed with --seed)."""
    return random.SystemRandom().randrange(1, 1_000_000)


def derived_seed(seed: int, purpose: str) -> int:
    """A stable seed for one purpose (an experiment's stem, "catalog", "locust")."""
    return zlib.crc32(f"{seed}:{purpose}".encode()) % 1_000_000
