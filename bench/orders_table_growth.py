"""What a grown orders table costs the idle stack: the soak's drift (bench/README.md).

    python bench/orders_table_growth.py [--orders 5000,20000] [--idle-s 20]

Starts a private stack (`gameday up --port-base 0`), then for each step of --orders fills the
orders table up to that many final (COMPLETED) orders with BatchWriteItem, waits for the
background readers to run, and prints the AWS emulator's CPU over --idle-s with no load at all,
and the saga exporter's last scan duration (`shop_saga_exporter_scan_duration_seconds`). The
readers that grow with the table are the saga exporter's filtered Scan of the orders every 5 s
and the transaction manager's sweeper, whose Query of the sparse `open-checkouts` index moto
answers by iterating every item of the table. Prints numbers; asserts nothing; stops the stack.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from soak import saga  # noqa: E402  (bench/, the script's own folder)

from gameday.run.stack_process import StackProcess  # noqa: E402


def _order(now: int, index: int) -> dict[str, Any]:
    return {"PutRequest": {"Item": {
        "OrderId": {"S": f"ord-{uuid.uuid4().hex}"}, "Owner": {"S": f"bench-{index}"},
        "Status": {"S": "COMPLETED"}, "AmountCents": {"N": "1299"},
        "Items": {"L": [{"M": {"Sku": {"S": "sku-001"}, "Qty": {"N": "1"},
                               "PriceCents": {"N": "1299"}}}]},
        "CreatedAt": {"N": str(now)}, "UpdatedAt": {"N": str(now)}, "Version": {"N": "3"}}}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="5000,20000")
    parser.add_argument("--idle-s", type=float, default=20.0)
    args = parser.parse_args(argv)
    steps = [int(n) for n in args.orders.split(",")]

    work = Path(tempfile.mkdtemp(prefix="bench-orders-growth-"))
    stack = StackProcess(work / "state", work / "stack.log", seed=42, products=40)
    try:
        state = stack.start()
        env = state["env"]
        ddb = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"],
                           region_name=state["region"], aws_access_key_id="bench",
                           aws_secret_access_key="bench")
        table = next(t for t in ddb.list_tables()["TableNames"] if t.endswith("orders"))
        emulator = psutil.Process(state["services"]["aws"]["replicas"][0]["pid"])
        print("orders in table | emulator CPU, idle stack | saga exporter scan", flush=True)
        written = 0
        for target in [0, *steps]:
            now = int(time.time())
            while written < target:
                batch = [_order(now, written + i) for i in range(min(25, target - written))]
                ddb.batch_write_item(RequestItems={table: batch})
                written += len(batch)
            time.sleep(12)  # the exporter and the sweeper run on their own intervals
            before = sum(emulator.cpu_times()[:2])
            time.sleep(args.idle_s)
            cpu = (sum(emulator.cpu_times()[:2]) - before) / args.idle_s
            scan_s = saga(state["urls"]["saga_metrics"])["scan_s"]
            print(f"{written:15d} | {cpu * 100:10.1f} % of a core | {scan_s:6.3f} s", flush=True)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
