"""Fault families, one module each; every fault is registered here by name.

- kill-replica (kill_replica.py): ends by itself, the supervisor's hold expires;
- lambda-error, lambda-latency, service-error, service-latency, dynamodb-throttle
  (ssm_flag.py): ends by itself, the target ignores an expired flag;
- throttle-stream (throttle_stream.py): ended by `chaos reap` (the stack's reaper);
- remove-alarm, esm-update (remove_alarm.py, esm_update.py): protection switches for the
  negative controls, ended by `chaos reap`.

`injector.py` ties a fault to the ledger: plan, inject (write-ahead), verify, undo, cleanup, reap.
"""

from __future__ import annotations

from chaos.exceptions import FaultConflict, InjectionFailed
from chaos.faults import compose_replica, esm_update, remove_alarm, ssm_flag, throttle_stream
from chaos.faults.base import Fault, FaultPlan
from chaos.registry import Registry

FAULTS: Registry[Fault] = Registry("fault")
for _module in (compose_replica, ssm_flag, throttle_stream, remove_alarm, esm_update):
    for _fault in _module.FAULTS:
        FAULTS.register(_fault.name, _fault)

get_fault = FAULTS.get  # UnknownName (a ValueError) naming the known faults

__all__ = ["FAULTS", "Fault", "FaultConflict", "FaultPlan", "InjectionFailed", "get_fault"]
