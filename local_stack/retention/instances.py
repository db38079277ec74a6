"""moto's registry of every model object it ever made: weak, so it holds only live ones.

Every moto model class (``BaseModel``: DynamoDB ``Item``, ``StreamRecord``, ``ShardIterator``,
CloudWatch ``MetricDatum``, SQS ``Message``, X-Ray ``TraceSegment``, ...) appends each instance
it creates to a class-level list, ``instances_tracked``, for the ``/moto-api/data.json``
dashboard and S3's reset. Nothing ever removes an entry, so every item version written, every
stream record, iterator, datapoint and message stays in memory for the life of the server,
whatever the tables or the retention windows hold: measured here, about 8.5 KB per write under
a sustained write load (and every Item copy of moto's whole-table transaction snapshots on
top, which is most of the 20 MB/s issue 11 measured on main).

Here ``instances_tracked`` becomes a weak collection per class (a data descriptor on moto's
``InstanceTrackerMeta``, so reads, ``append`` and moto's ``reset_model_data`` assignment all go
through it): ``/moto-api/data.json`` and S3's reset see the instances that are still alive,
and a dropped one is freed. An instance that cannot be weakly referenced is not tracked.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from local_stack.moto_dynamodb_fixes import MotoHookNotFound

_LIVE = "_local_stack_live_instances"


class LiveInstances:
    """What moto does with ``instances_tracked`` (``append``, iterate), holding each instance
    weakly. Keyed by ``id()``: many moto models define ``__eq__`` without ``__hash__``."""

    def __init__(self) -> None:
        self._by_id: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()

    def append(self, instance: Any) -> None:
        try:
            self._by_id[id(instance)] = instance
        except TypeError:  # no __weakref__ slot: not tracked rather than kept forever
            pass

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, instance: Any) -> bool:
        return self._by_id.get(id(instance)) is instance


def _live(cls: type) -> LiveInstances:
    live = cls.__dict__.get(_LIVE)
    if live is None:
        live = LiveInstances()
        type.__setattr__(cls, _LIVE, live)
    return live


def _restart(cls: type, instances: Any) -> None:
    """``model.instances_tracked = []`` (moto's reset): track afresh."""
    live = LiveInstances()
    for instance in instances or ():
        live.append(instance)
    type.__setattr__(cls, _LIVE, live)


def install() -> None:
    """Make every moto model class's ``instances_tracked`` weak (idempotent); MotoHookNotFound
    when moto's instance tracking is not where this module expects it."""
    import inspect

    from moto.core import common_models
    from moto.core.base_backend import InstanceTrackerMeta
    from moto.core.model_instances import model_data

    if isinstance(InstanceTrackerMeta.__dict__.get("instances_tracked"), property):
        return
    try:
        source = inspect.getsource(common_models.BaseModel.__new__)
    except (OSError, TypeError) as exc:
        raise MotoHookNotFound(f"cannot read moto's BaseModel source: {exc}") from exc
    if "cls.instances_tracked.append(instance)" not in source:
        raise MotoHookNotFound("moto's BaseModel no longer tracks instances with "
                               "instances_tracked.append: review "
                               "local_stack/retention/instances.py")
    # classes made before now keep their old (strong) list in their __dict__: move what it
    # holds into the weak set, then empty it
    existing = [cls for models in model_data.values() for cls in models.values()
                if isinstance(cls, type)]
    InstanceTrackerMeta.instances_tracked = property(_live, _restart)  # type: ignore[attr-defined]
    for cls in existing:
        strong = cls.__dict__.get("instances_tracked")
        if isinstance(strong, list):
            live = _live(cls)
            for instance in strong:
                live.append(instance)
            strong.clear()
