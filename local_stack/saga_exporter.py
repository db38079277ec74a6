"""Prometheus exporter of the saga's state as DynamoDB holds it: orders by status (so, in flight),
the age of the oldest order in flight, cancellations by reason, and where the stock is.

The shop's counters (`shop_orders_total{status}`) say what happened in each process since it
started; they cannot say how many orders are in flight now, nor how much stock is on hand, held
by orders or sold. This exporter reads the tables (every `--interval` seconds, in the
background: a scrape never waits for DynamoDB) and serves:

- `shop_saga_orders{status}` (gauge): orders by status (AUTHORIZING, PENDING, RESERVED, PAID,
  COMPLETED, CANCELLED);
- `shop_saga_orders_in_flight` (gauge): AUTHORIZING + PENDING + RESERVED + PAID;
- `shop_saga_oldest_in_flight_age_seconds` (gauge): 0 when nothing is in flight;
- `shop_saga_orders_cancelled{reason}` (gauge): cancelled orders by CancelReason;
- `shop_stock_units{state}` (gauge): `on_hand` (Σ Qty), `initial` (Σ InitialQty), `reserved`
  (held by orders in flight), `sold` (taken by completed orders), `awaiting_release` (still
  held by cancelled orders);
- `shop_stock_products_out_of_stock` (gauge): products with Qty 0;
- `shop_saga_exporter_last_success_timestamp_seconds`, `shop_saga_exporter_scan_duration_seconds`
  (gauges) and `shop_saga_exporter_errors_total` (counter: failed scans).

What a scan reads, and why not everything: COMPLETED and CANCELLED are final, and they are
almost every order after a while (20,000 after a soak). A full scan of them every 5 s held the
emulator's DynamoDB lock for the whole scan (every request of the shop waited) and serialised
every order's items. So the exporter remembers the final orders it has seen and reads only the
orders not final yet plus those updated since its previous scan (`UpdatedAt`, with a margin),
projected to the attributes it counts; a full scan every FULL_SCAN_EVERY_S corrects anything
missed (an order written without `UpdatedAt`). Products are read projected too.

`initial = on_hand + reserved + sold + awaiting_release` while stock is conserved (the scan is
not a snapshot, so a moment's difference can show under load; `gameday audit` is the check).

    python -m local_stack.saga_exporter --state-dir .gameday --port 9110    # a local stack
    python -m local_stack.saga_exporter --host 0.0.0.0 --port 9110          # env (compose)

Without `--state-dir` the settings come from the environment as for the shop
(`AWS_ENDPOINT_URL`, `SHOP_TABLE_PREFIX`, `AWS_DEFAULT_REGION`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("local_stack.saga_exporter")

STATUSES = ("AUTHORIZING", "PENDING", "RESERVED", "PAID", "COMPLETED", "CANCELLED")
IN_FLIGHT = frozenset({"AUTHORIZING", "PENDING", "RESERVED", "PAID"})
STOCK_STATES = ("on_hand", "initial", "reserved", "sold", "awaiting_release")
PRODUCT_ROW = "0"
FINAL = ("COMPLETED", "CANCELLED")
FULL_SCAN_EVERY_S = 300.0
UPDATED_MARGIN_S = 10  # clocks of the writers and whole-second UpdatedAt
ORDER_FIELDS = "OrderId, #s, CreatedAt, CancelReason, UpdatedAt, Heartbeat"
PRODUCT_FIELDS = "ProductId, TranId, Qty, InitialQty"


@dataclass
class SagaSnapshot:
    """What one scan found."""

    orders: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    oldest_in_flight_age_s: float = 0.0
    cancel_reasons: dict[str, int] = field(default_factory=dict)
    stock: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STOCK_STATES, 0.0))
    out_of_stock: int = 0

    @property
    def in_flight(self) -> int:
        return sum(self.orders.get(status, 0) for status in IN_FLIGHT)


def summarize(orders: Iterable[dict[str, Any]], product_rows: Iterable[dict[str, Any]],
              now: float | None = None) -> SagaSnapshot:
    """The snapshot of deserialised order items and products-table rows (product rows and
    `<order_id>#SUB` / `#ADD` stock event rows); heartbeat rows are skipped."""
    from reference_app.ddb import epoch_s
    from reference_app.heartbeat import is_heartbeat

    now = time.time() if now is None else now
    snap = SagaSnapshot()
    status_of: dict[str, str] = {}
    oldest: float | None = None
    reasons: Counter[str] = Counter()
    for order in orders:
        if is_heartbeat(order):
            continue
        status = str(order.get("Status", ""))
        status_of[str(order.get("OrderId", ""))] = status
        if status in snap.orders:
            snap.orders[status] += 1
        if status == "CANCELLED":
            reasons[str(order.get("CancelReason") or "unknown")] += 1
        if status in IN_FLIGHT:
            created = epoch_s(order.get("CreatedAt"))
            if created is not None:
                oldest = created if oldest is None else min(oldest, created)
    snap.oldest_in_flight_age_s = max(0.0, now - oldest) if oldest is not None else 0.0
    snap.cancel_reasons = dict(sorted(reasons.items()))

    held: Counter[str] = Counter()  # order id -> SUB - ADD
    for row in product_rows:
        tran = str(row.get("TranId", ""))
        if tran == PRODUCT_ROW:
            qty = float(row.get("Qty", 0) or 0)
            snap.stock["on_hand"] += qty
            snap.stock["initial"] += float(row.get("InitialQty", 0) or 0)
            if qty <= 0:
                snap.out_of_stock += 1
            continue
        order_id, _, action = tran.rpartition("#")
        if not order_id or action not in ("SUB", "ADD"):
            continue
        qty = float(row.get("Qty", 0) or 0)
        held[order_id] += qty if action == "SUB" else -qty
    for order_id, units in held.items():
        status = status_of.get(order_id, "")
        if status == "COMPLETED":
            snap.stock["sold"] += units
        elif status == "CANCELLED":
            snap.stock["awaiting_release"] += units
        else:  # in flight, or an order this scan has not seen yet
            snap.stock["reserved"] += units
    return snap


class SagaExporter(Collector):
    """Scans in a background thread; `collect` serves the last snapshot."""

    def __init__(self, settings: Any, interval_s: float = 5.0) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self.snapshot: SagaSnapshot | None = None
        self.last_success = 0.0
        self.scan_duration_s = 0.0
        self.errors = 0
        self._client: Any = None
        self._final: dict[str, dict[str, Any]] | None = None  # order id -> final order row
        self._full_scan_at = 0.0
        self._since = 0.0
        self.rows_read = 0  # order rows the last scan read
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="saga-scan", daemon=True)

    def scan_once(self) -> SagaSnapshot:
        """Scan the tables now and keep the result."""
        from reference_app import aws
        from reference_app.ddb import scan_items

        if self._client is None:
            self._client = aws.client("dynamodb", self.settings)
        t0 = time.monotonic()
        tables = self.settings.tables
        orders = self._orders()
        products = list(scan_items(self._client, tables.products,
                                   ProjectionExpression=PRODUCT_FIELDS))
        snapshot = summarize(orders, products)
        self.scan_duration_s = time.monotonic() - t0
        self.snapshot = snapshot
        self.last_success = time.time()
        return snapshot

    def _orders(self) -> list[dict[str, Any]]:
        """Every order (projected): the final ones remembered, the others read now."""
        from reference_app.ddb import scan_items

        started = time.time()
        kwargs: dict[str, Any] = {"ProjectionExpression": ORDER_FIELDS,
                                  "ExpressionAttributeNames": {"#s": "Status"}}
        full = self._final is None or started - self._full_scan_at >= FULL_SCAN_EVERY_S
        if not full:
            kwargs["FilterExpression"] = "NOT (#s IN (:done, :cancelled)) OR UpdatedAt >= :since"
            kwargs["ExpressionAttributeValues"] = {
                ":done": {"S": FINAL[0]}, ":cancelled": {"S": FINAL[1]},
                ":since": {"N": str(int(self._since - UPDATED_MARGIN_S))}}
        rows = list(scan_items(self._client, self.settings.tables.orders, **kwargs))
        final = {} if full or self._final is None else self._final
        live = []
        for row in rows:
            if row.get("Status") in FINAL:
                final[str(row.get("OrderId"))] = row
            else:
                live.append(row)
        self._final = final
        self._since = started
        if full:
            self._full_scan_at = started
        self.rows_read = len(rows)
        return [*final.values(), *live]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            try:
                self.scan_once()
            except Exception as exc:  # keep serving the last snapshot; count the failure
                self.errors += 1
                log.warning("scan failed (%d so far): %s", self.errors, exc)
            if self._stop.wait(self.interval_s):
                return

    def collect(self) -> Iterator[Metric]:
        errors = CounterMetricFamily("shop_saga_exporter_errors", "Failed scans")
        errors.add_metric([], float(self.errors))
        yield errors
        duration = GaugeMetricFamily("shop_saga_exporter_scan_duration_seconds",
                                     "Duration of the last successful scan")
        duration.add_metric([], self.scan_duration_s)
        yield duration
        snap = self.snapshot
        if snap is None:
            return
        last = GaugeMetricFamily("shop_saga_exporter_last_success_timestamp_seconds",
                                 "Unix time of the last successful scan")
        last.add_metric([], self.last_success)
        yield last
        orders = GaugeMetricFamily("shop_saga_orders", "Orders by status (DynamoDB scan)",
                                   labels=["status"])
        for status in STATUSES:
            orders.add_metric([status], float(snap.orders.get(status, 0)))
        yield orders
        in_flight = GaugeMetricFamily("shop_saga_orders_in_flight",
                                      "Orders not yet COMPLETED or CANCELLED")
        in_flight.add_metric([], float(snap.in_flight))
        yield in_flight
        oldest = GaugeMetricFamily("shop_saga_oldest_in_flight_age_seconds",
                                   "Age of the oldest order in flight (0 when none)")
        oldest.add_metric([], snap.oldest_in_flight_age_s)
        yield oldest
        cancelled = GaugeMetricFamily("shop_saga_orders_cancelled",
                                      "Cancelled orders by CancelReason", labels=["reason"])
        for reason, count in snap.cancel_reasons.items():
            cancelled.add_metric([reason], float(count))
        yield cancelled
        stock = GaugeMetricFamily("shop_stock_units", "Stock units by where they are",
                                  labels=["state"])
        for state in STOCK_STATES:
            stock.add_metric([state], snap.stock.get(state, 0.0))
        yield stock
        empty = GaugeMetricFamily("shop_stock_products_out_of_stock", "Products with Qty 0")
        empty.add_metric([], float(snap.out_of_stock))
        yield empty


def settings_for(state_dir: Path | None) -> Any:
    """The shop's Settings: from a gameday state file, else from the environment."""
    from reference_app.config import Settings, TableNames

    settings = Settings.from_env()
    if state_dir is None:
        return settings
    from dataclasses import replace

    from local_stack.state import read_state

    state = read_state(state_dir)
    return replace(settings, aws_endpoint_url=state["urls"]["aws"],
                   aws_region=state.get("region") or settings.aws_region,
                   tables=TableNames(state.get("table_prefix") or settings.tables.prefix))


def serve(exporter: SagaExporter, port: int, host: str = "127.0.0.1") -> tuple[Any, int]:
    """Serve the exporter's metrics on host:port (0 picks a free port); (server, port)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(exporter)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server, int(server.server_port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.saga_exporter",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="a local stack's state dir (default: settings from the env)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9110, help="0 picks a free port")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between scans")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be > 0")
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    exporter = SagaExporter(settings_for(args.state_dir), args.interval)
    server, port = serve(exporter, args.port, args.host)
    exporter.start()
    log.info("saga metrics on http://%s:%d/metrics (scan every %g s)", args.host, port,
             args.interval)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    exporter.stop()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
