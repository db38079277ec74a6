"""What a target is: a name, how it is deployed and torn down, its endpoints catalog, its fault
backends (a `Registry` of `Fault` by the fault names experiments use) and its probe overrides
(probe name -> function, where the target reads something differently, e.g. `replicas-alive`
as ECS running tasks on aws). A fault name a target has no backend for is an `UnknownName`
naming the ones it has."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class TargetContext(Protocol):
    """The part of `chaos.context.ChaosContext` a target needs."""

    @property
    def target(self) -> str: ...


@dataclass(frozen=True)
class Target:
    name: str
    summary: str
    deploy: str  # the command that puts the shop there
    teardown: str  # the command that takes it away
    faults_from: str  # module whose FAULTS registry holds the fault backends
    catalog_fn: Callable[[Any], dict[str, Any]]
    probes_from: str = ""  # module with PROBE_OVERRIDES: {probe name: fn(env, params)}
    notes: tuple[str, ...] = field(default_factory=tuple)

    def faults(self) -> Any:
        """The fault backends: a chaos.registry.Registry[Fault] (imported on first use)."""
        return importlib.import_module(self.faults_from).FAULTS

    def fault(self, name: str) -> Any:
        """The backend of fault `name` here; UnknownName naming the known ones."""
        return self.faults().get(name)

    def probe_overrides(self) -> dict[str, Callable[..., Any]]:
        if not self.probes_from:
            return {}
        return dict(importlib.import_module(self.probes_from).PROBE_OVERRIDES)

    def catalog(self, ctx: Any) -> dict[str, Any]:
        """Where the shop's pieces are: urls, services, functions, tables, queues, ..."""
        return self.catalog_fn(ctx)
