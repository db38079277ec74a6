"""What an action may touch of its run (`chaos.actions.RunControls`): the stack, the seed,
the load, and this run's open faults — and nothing else of the runner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaos.context import ChaosContext
from chaos.runner.load_control import LoadControl
from chaos.runner.scheduler import FaultScheduler


@dataclass
class Controls:
    ctx: ChaosContext
    seed: int
    load: LoadControl
    scheduler: FaultScheduler

    def start_load(self) -> dict[str, Any]:
        return self.load.start()

    def stop_load(self) -> dict[str, Any]:
        return self.load.stop()

    def settle_orders(self, timeout: str | float | None = None) -> dict[str, Any]:
        return self.load.settle(timeout)

    def end_faults(self) -> list[str]:
        ended = [w.fault_id for w in self.scheduler.open_windows()]
        self.scheduler.end_all()
        return ended
