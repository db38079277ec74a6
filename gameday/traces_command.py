"""`gameday traces ORDER_ID`: one order's path through the shop, read back from the X-Ray API.

The order row carries the checkout's trace header; every segment of that trace (storefront,
payments, the stream handlers that joined it) is fetched with BatchGetTraces and printed as a
timeline: offset from the first segment, duration, and the subsegments (DynamoDB, HTTP calls).
Exit status (local_stack.exit_codes): 0 printed; 1 no trace (tracing off, or no segment arrived
within --wait); 2 no such order; 3 no stack.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from gameday.aws_clients import local_client
from gameday.stack_commands import add_state_dir
from local_stack.exit_codes import ExitCode
from local_stack.state import StackNotRunning, default_state_dir, read_state


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("traces", help="print one order's trace (X-Ray) with timings")
    add_state_dir(parser)
    parser.add_argument("order_id", help="an order id, as checkout returned it (ord-...)")
    parser.add_argument("--wait", type=float, default=5.0,
                        help="seconds to wait for late segments (default 5)")
    parser.add_argument("--json", action="store_true", help="print the raw segment documents")
    parser.set_defaults(func=cmd_traces)


def trace_id_of(order: dict[str, Any]) -> str | None:
    header = order.get("TraceHeader", {}).get("S", "")
    for part in header.split(";"):
        key, _, value = part.partition("=")
        if key.strip() == "Root" and value:
            return value.strip()
    return None


def segments_of(xray: Any, trace_id: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for trace in xray.batch_get_traces(TraceIds=[trace_id]).get("Traces", []):
        docs += [json.loads(seg["Document"]) for seg in trace.get("Segments", [])]
    return sorted(docs, key=lambda d: d.get("start_time", 0))


def render(order_id: str, trace_id: str, docs: list[dict[str, Any]]) -> str:
    lines = [f"order {order_id}  trace {trace_id}  ({len(docs)} segments)"]
    if not docs:
        return lines[0] + "\n  no segments yet"
    t0 = docs[0]["start_time"]
    for doc in docs:
        dur = (doc.get("end_time", doc["start_time"]) - doc["start_time"]) * 1000
        fault = " FAULT" if doc.get("fault") else (" ERROR" if doc.get("error") else "")
        lines.append(f"  +{(doc['start_time'] - t0) * 1000:8.1f} ms  {dur:8.1f} ms  "
                     f"{doc['name']}{fault}")
        for sub in sorted(doc.get("subsegments", []), key=lambda s: s.get("start_time", 0)):
            sdur = (sub.get("end_time", sub["start_time"]) - sub["start_time"]) * 1000
            what = sub.get("aws", {}).get("operation") or sub.get("http", {}).get(
                "request", {}).get("url", "")
            lines.append(f"      +{(sub['start_time'] - t0) * 1000:8.1f} ms  {sdur:8.1f} ms  "
                         f"{sub['name']} {what}".rstrip())
    return "\n".join(lines)


def cmd_traces(args: argparse.Namespace) -> int:
    try:
        state = read_state((args.state_dir or default_state_dir()).resolve())
    except StackNotRunning as exc:
        print(f"gameday traces: {exc}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    ddb = local_client("dynamodb", state)
    table = f"{state.get('table_prefix', 'shop-')}orders"
    order = ddb.get_item(TableName=table, Key={"OrderId": {"S": args.order_id}}).get("Item")
    if order is None:
        print(f"gameday traces: no order {args.order_id!r} in {table}", file=sys.stderr)
        return ExitCode.USAGE
    trace_id = trace_id_of(order)
    if trace_id is None:
        print(f"gameday traces: order {args.order_id} has no trace header (tracing off?)",
              file=sys.stderr)
        return ExitCode.FAILED
    xray = local_client("xray", state)
    deadline = time.monotonic() + args.wait
    docs = segments_of(xray, trace_id)
    while not docs and time.monotonic() < deadline:
        time.sleep(0.5)
        docs = segments_of(xray, trace_id)
    if args.json:
        print(json.dumps(docs, indent=2))
    else:
        print(render(args.order_id, trace_id, docs))
    return ExitCode.OK if docs else ExitCode.FAILED
