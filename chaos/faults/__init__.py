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

FAULTS: dict[str, Fault] = {
    fault.name: fault
    for module in (compose_replica, ssm_flag, throttle_stream, remove_alarm, esm_update)
    for fault in module.FAULTS
}


def get_fault(name: str) -> Fault:
    try:
        return FAULTS[name]
    except KeyError:
        raise ValueError(f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})") from None


__all__ = ["FAULTS", "Fault", "FaultConflict", "FaultPlan", "InjectionFailed", "get_fault"]
