"""Bounds per target: a probe step's `within`, a wait-for-faults' `timeout` and a verdict's
`min`/`max` (and its `title`, which states the bound) may differ where the shop runs, stated
next to the local value:

    - type: probe
      name: jam-detected
      probe: alarm
      params: {alarm: shop-inventory-stream-jam}
      tolerance: {equals: ALARM}
      within: 15s                    # local: 10-second alarm periods
      per-target:
        aws: {within: 150s}         # AWS/Lambda metrics are 1-minute: 60 s periods

`for_target(data, target)` is the experiment as it runs on `target`: each `per-target` entry of
that target replaces the keys it names, and every `per-target` key is dropped, so a target
without an entry (local, compose) runs exactly the file's own values. The schema
(chaos/spec/schema.py) allows only known target names and only these keys."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

PER_TARGET = "per-target"


def _items(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every mapping of the experiment that may carry `per-target`: steps, hypothesis probes,
    guards, rollbacks, the control's steps, verdicts."""
    hypothesis = data.get("steady-state-hypothesis") or {}
    control = data.get("control") or {}
    for group in (data.get("method"), data.get("rollbacks"), hypothesis.get("probes"),
                  hypothesis.get("after"), (data.get("stop-conditions") or {}).get("guards"),
                  control.get("before-method"), data.get("verdicts")):
        yield from (item for item in group or [] if isinstance(item, dict))


def for_target(data: dict[str, Any], target: str) -> dict[str, Any]:
    """A copy of the experiment's data with `target`'s bounds in place (see the module
    docstring); `data` is not changed."""
    out = copy.deepcopy(data)
    for item in _items(out):
        item.update((item.pop(PER_TARGET, None) or {}).get(target) or {})
    return out


def overridden(data: dict[str, Any], target: str) -> list[tuple[str, str, Any, Any]]:
    """(item name, key, file value, `target`'s value) of every bound `target` overrides."""
    found = []
    for item in _items(data):
        for key, value in ((item.get(PER_TARGET) or {}).get(target) or {}).items():
            found.append((str(item.get("name") or item.get("metric") or item.get("type")), key,
                          item.get(key), value))
    return found
