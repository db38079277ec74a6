"""Targets: where the shop runs, and one home for what differs there.

A target (``local``, ``compose``, ``aws``) knows its endpoints catalog, how it is deployed and
torn down, its fault backends and its probes (`Target`, base.py). Everything else in `chaos/`
asks the target of its context (`target_of(ctx)`) and otherwise reads the same for all three:

- local: catalog = the state file's URLs; `gameday up` / `gameday down`; faults
  `chaos/faults/*.py`; probes `chaos/probes/*.py`;
- compose: catalog = the state file `python -m local_stack.compose state` writes;
  `docker compose up` / `down`; the same faults (kill-replica through Docker) and probes;
- aws: catalog = the stack's outputs (`deploy.aws.catalog`); `gameday aws deploy` /
  `destroy`; faults `chaos/faults/aws/`; probes `chaos/probes/aws/` where AWS differs.

Also here: the seeded selection of a fault's targets among its candidates (selection.py),
re-exported so `from chaos.targets import Selection` keeps working.

Fault registries and probe overrides are imported lazily: `chaos.faults` imports this package
for `Selection`, so this package must not import `chaos.faults` at import time.
"""

from __future__ import annotations

from chaos.exceptions import TargetSelectionError
from chaos.registry import Registry
from chaos.targets import aws, compose, local
from chaos.targets.base import Target, TargetContext
from chaos.targets.selection import SELECTION_PATTERN, Selection, new_seed

TARGETS: Registry[Target] = Registry("target")
for _target in (local.TARGET, compose.TARGET, aws.TARGET):
    TARGETS.register(_target.name, _target)


def target_of(ctx: TargetContext) -> Target:
    """The target a context acts on (its `target` attribute: local | compose | aws)."""
    return TARGETS.get(ctx.target)


__all__ = ["SELECTION_PATTERN", "TARGETS", "Selection", "Target", "TargetSelectionError",
           "new_seed", "target_of"]
