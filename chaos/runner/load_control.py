"""The run's load, from its `load:` config: build the driver (the built-in shoppers or Locust),
start it and wait for warm-up orders (with a deadline), stop it, let its orders settle and
count duplicates, and summarise it for the journal."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from chaos.context import ChaosContext
from chaos.durations import parse_duration
from chaos.exceptions import StepError
from chaos.load.builtin import BuiltinLoad, discover_skus
from chaos.load.locust_driver import LocustLoad
from chaos.load.records import RequestRecord, per_second
from chaos.probes import orders
from chaos.probes.env import ProbeEnv
from chaos.probes.waiting import wait_until
from chaos.runner.activities import FAILED, ActivityOutcome
from chaos.spec.sections import LoadConfig
from chaos.verdicts import Observations

log = logging.getLogger("chaos.runner.load")


class LoadControl:
    """The driver of one run (None until started); `env.load` points at it for probes."""

    def __init__(self, config: LoadConfig, ctx: ChaosContext, seed: int, out_dir: Path,
                 env: ProbeEnv, abort: threading.Event) -> None:
        self.config = config
        self.ctx = ctx
        self.seed = seed
        self.out_dir = out_dir
        self.env = env
        self.abort = abort
        self.driver: BuiltinLoad | LocustLoad | None = None
        self.orders_summary: dict[str, Any] | None = None

    @property
    def records(self) -> list[RequestRecord] | None:
        """Every request so far (the built-in load only; Locust keeps none)."""
        recorder = getattr(self.driver, "recorder", None)
        return recorder.snapshot() if recorder is not None else None

    # -- the start-load / stop-load / settle-orders actions --------------------------------
    def start(self) -> dict[str, Any]:
        if self.driver is not None:
            return {"already_running": True}
        cfg = self.config
        if not cfg.runs:
            return {"driver": "none"}
        storefront = self.ctx.url("storefront")
        if cfg.driver == "locust":
            self.driver = LocustLoad(storefront, cfg.locustfile, cfg.users, cfg.spawn_rate,
                                     self.out_dir)
        else:
            skus = discover_skus(self.ctx)
            if not skus:
                raise StepError("no product with stock for the load to order")
            self.driver = BuiltinLoad(storefront, skus, cfg.users, cfg.think_time.seconds,
                                      self.seed, browse=cfg.browse)
        self.env.load = self.driver
        self.driver.start()
        return {"driver": cfg.driver, "users": cfg.users}

    def stop(self) -> dict[str, Any]:
        if self.driver is None:
            return {"running": False}
        self.driver.stop()
        return self.driver.summary()

    def settle(self, timeout: str | float | None = None) -> dict[str, Any]:
        """Wait (bounded) for the load's orders to reach COMPLETED/CANCELLED; count duplicates
        and orders created without a 202 reaching the client."""
        if not isinstance(self.driver, BuiltinLoad):
            return {}
        timeout_s = parse_duration(timeout) if timeout else self.config.settle_timeout.seconds
        placed = self.driver.placed()
        by_status = orders.settle(self.ctx.url("storefront"), placed, timeout_s)
        summary: dict[str, Any] = {"accepted": len(placed), "by_status": by_status}
        try:
            owners = {o.shopper_id for o in placed}
            rows = orders.orders_of_owners(self.ctx, owners)
            accepted_ids = {o.order_id for o in placed}
            summary["duplicates"] = orders.duplicates(rows)
            summary["unacknowledged"] = sum(1 for rs in rows.values() for r in rs
                                            if r["order_id"] not in accepted_ids)
        except Exception as exc:  # noqa: BLE001 - the table scan is extra evidence
            log.warning("could not scan the orders table: %s", exc)
            summary["duplicates"] = len(placed) - len({o.order_id for o in placed})
        self.orders_summary = summary
        return summary

    # -- around the method ----------------------------------------------------------------
    def start_and_warm_up(self) -> ActivityOutcome:
        """Start the load and wait for its warm-up orders; `failed` (then StepError) when
        too few come within the warm-up timeout."""
        output = self.start()
        cfg = self.config
        wanted = cfg.warmup_orders
        if isinstance(self.driver, BuiltinLoad) and wanted:
            driver = self.driver
            result = wait_until(lambda: len(driver.placed()), lambda n: n >= wanted,
                                cfg.warmup_timeout.seconds, 0.25, self.abort)
            output["warmup_orders"] = result.value
            if not result.ok:
                return ActivityOutcome(FAILED, output, raise_after=StepError(
                    f"the load placed {result.value} of {wanted} warm-up orders within "
                    f"{cfg.warmup_timeout}"))
        return ActivityOutcome(output=output)

    def needs_stopping(self) -> bool:
        """False when there is no load, or it was stopped and settled by the method."""
        return self.driver is not None and not (self.driver.stopped_at
                                                and self.orders_summary is not None)

    def stop_and_settle(self, settle: bool) -> dict[str, Any]:
        summary = self.stop()
        if self.orders_summary is None and settle:
            summary["orders"] = self.settle()
        return summary

    def record(self, obs: Observations) -> dict[str, Any]:
        """The journal's `load`: the driver's summary, when it ran, and its requests per
        second over that span only (after it stopped the run settles orders: no load there,
        not zero load)."""
        if self.driver is None:
            return {"driver": "none"}
        record: dict[str, Any] = {"summary": self.driver.summary()}
        driver = self.driver
        started = max(obs.run_start, getattr(driver, "started_at", None) or obs.run_start)
        stopped = min(obs.run_end, getattr(driver, "stop_requested_at", None)
                      or getattr(driver, "stopped_at", None) or obs.run_end)
        record["started_at"], record["stopped_at"] = started, stopped
        if obs.records is not None:
            record["per_second"] = per_second(obs.records, started, stopped)
        return record
