"""One shape for every catalog an experiment names things from: faults, probes, actions and
verdict metrics. A `Registry` maps a name to what it stands for; `get` of a name it does not
hold raises `UnknownName` naming that name and every known one — the same message for the
CLI, the runner and the experiment validator.

A dict would do the lookups; this small class exists for the one error message and for
refusing a name registered twice (two faults silently sharing a name would be a bug).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from chaos.exceptions import UnknownName

T = TypeVar("T")


class Registry(Generic[T]):
    """Things of one `kind` (e.g. "fault") by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Add `item` under `name`; ValueError when the name is taken."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = item
        return item

    def registers(self, name: str) -> Callable[[T], T]:
        """Decorator form of `register`: `@METRICS.registers("error_rate")`."""
        def add(item: T) -> T:
            return self.register(name, item)
        return add

    def get(self, name: str) -> T:
        """The item called `name`; UnknownName (naming the known ones) otherwise."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise self.unknown(name) from None

    def unknown(self, name: object) -> UnknownName:
        """The error for a name this registry does not hold."""
        return UnknownName(f"unknown {self.kind} {name!r} (known: {', '.join(self.names())})")

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._items
        except TypeError:  # an unhashable value from a file is no name
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
