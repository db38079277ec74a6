"""The local AWS emulator under load, another tree (e.g. main) beside this one, in one run
(issue 11).

    git worktree add --detach /tmp/main-tree main
    python bench/emulator.py --other /tmp/main-tree [--only micro,soak,gameday]
        [--items 3000] [--ops-s 8] [--soak-min 3] [--gameday-runs 3]

This tree is the one the script lives in. Every section runs once per tree, the other tree
first, with the tree's code first on PYTHONPATH (the same venv serves both; nothing is
installed). The client side (boto3, Locust) is the same for both. Prints numbers and, at the
end, the two trees side by side; asserts nothing.

Sections:
- **micro**: one emulator (``python -m local_stack.aws_server``) per tree. TransactWriteItems
  and key-Query latency (median) on an empty table and on a table of ``--items`` items; then
  ops/s for the shop's typical DynamoDB calls (GetItem, key Query, conditional UpdateItem,
  conditional PutItem, a two-item TransactWriteItems), each for ``--ops-s`` seconds from 4
  client threads, with the emulator's own CPU time per call (the client shares the cores).
- **soak**: emulator RSS over ``--soak-min`` minutes of sustained writes from 4 threads
  (PutItem and TransactWriteItems over a fixed set of keys of a streamed table, so the table
  does not grow, whose stream a consumer reads the way the stream runtime does; PutMetricData;
  SQS send/receive/delete; X-Ray PutTraceSegments), RSS printed every 30 s. Shorten the
  emulator's windows with the ``GAMEDAY_*_RETENTION_S`` variables (docs/retention.md) to see
  it level off within a short soak.
- **gameday**: ``gameday up --port-base 0`` on a private state dir, then ``--gameday-runs``
  times ``gameday load -u 60 -r 30 -t 45s -- --think-time 0.05:0.2`` back to back; req/s, p50,
  p99 and the emulator's RSS after each run; then ``gameday down``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent
SOAK_KEYS = 2000
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                     "AWS_DEFAULT_REGION": "us-east-1"}


def tree_env(tree: Path) -> dict[str, str]:
    """The environment for a process running `tree`'s code."""
    env = {**os.environ, "PYTHONPATH": str(tree), **LOCAL_CREDENTIALS}
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
        del env[key]
    return env


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def emulator_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the emulator process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def aws_client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 3},
                                      max_pool_connections=16))


@contextmanager
def emulator(tree: Path) -> Iterator[tuple[str, int]]:
    """`python -m local_stack.aws_server` from `tree` on a free port: (url, pid)."""
    from local_stack.ports import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_stack.aws_server", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "WARNING"],
        cwd=tree, env=tree_env(tree), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 60)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- micro --------------------------------------------------------------------------------------

def make_table(ddb: Any, name: str, range_key: bool = True) -> str:
    keys = [{"AttributeName": "K", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "K", "AttributeType": "S"}]
    if range_key:
        keys.append({"AttributeName": "R", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "R", "AttributeType": "S"})
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=keys,
                     AttributeDefinitions=attrs,
                     StreamSpecification={"StreamEnabled": True,
                                          "StreamViewType": "NEW_AND_OLD_IMAGES"})
    return ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def fill(ddb: Any, table: str, items: int) -> None:
    for start in range(0, items, 25):
        ddb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"K": {"S": f"bulk-{n // 10}"}, "R": {"S": f"{n:05d}"},
                                     "Payload": {"S": "x" * 200}}}}
            for n in range(start, min(items, start + 25))]})


def transact_call(ddb: Any, table: str) -> Callable[[], Any]:
    """The inventory reservation's shape: bump a counter, add an idempotency row."""
    def call() -> Any:
        return ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"K": {"S": "hot"}, "R": {"S": "stock"}},
                        "UpdateExpression": "ADD Reserved :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Put": {"TableName": table, "Item": {"K": {"S": uuid.uuid4().hex}, "R": {"S": "-"}},
                     "ConditionExpression": "attribute_not_exists(K)"}},
        ])
    return call


def query_call(ddb: Any, table: str) -> Callable[[], Any]:
    return lambda: ddb.query(TableName=table, KeyConditionExpression="K = :k",
                             ExpressionAttributeValues={":k": {"S": "hot"}})


def median_ms(call: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def ops_per_s(make: Callable[[], Callable[[], Any]], seconds: float, threads: int = 4) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def worker(index: int) -> None:
        call = make()
        while time.monotonic() < stop:
            call()
            counts[index] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def micro(tree: Path, items: int, ops_s: float) -> dict[str, float]:
    out: dict[str, float] = {}
    with emulator(tree) as (url, pid):
        ddb = aws_client("dynamodb", url)
        make_table(ddb, "empty")
        make_table(ddb, "big")
        fill(ddb, "big", items)
        for name, maker in (("transact", transact_call), ("query", query_call)):
            empty = median_ms(maker(ddb, "empty"), 40)
            big = median_ms(maker(ddb, "big"), 40)
            out[f"{name} ms, empty table"] = empty
            out[f"{name} ms, {items} items"] = big
            out[f"{name} ratio big/empty"] = big / empty
            print(f"   {name}: {empty:.2f} ms empty, {big:.2f} ms with {items} items "
                  f"({big / empty:.1f}x)", flush=True)
        ddb.put_item(TableName="big", Item={"K": {"S": "cart"}, "R": {"S": "c"},
                                            "Version": {"N": "0"}})

        def get() -> Callable[[], Any]:
            client = aws_client("dynamodb", url)
            return lambda: client.get_item(TableName="big",
                                           Key={"K": {"S": "bulk-7"}, "R": {"S": "00071"}})

        def update() -> Callable[[], Any]:
            client = aws_client("dynamodb", url)

            def call() -> None:
                version = client.get_item(TableName="big", ConsistentRead=True,
                                          Key={"K": {"S": "cart"}, "R": {"S": "c"}}
                                          )["Item"]["Version"]["N"]
                try:
                    client.update_item(
                        TableName="big", Key={"K": {"S": "cart"}, "R": {"S": "c"}},
                        UpdateExpression="SET Version = :next, CartLines = :lines",
                        ConditionExpression="Version = :v",
                        ExpressionAttributeValues={
                            ":v": {"N": version}, ":next": {"N": str(int(version) + 1)},
                            ":lines": {"L": [{"S": "sku-1"}, {"S": "sku-2"}]}})
                except client.exceptions.ConditionalCheckFailedException:
                    pass
            return call

        def put() -> Callable[[], Any]:
            client = aws_client("dynamodb", url)
            return lambda: client.put_item(
                TableName="big", Item={"K": {"S": uuid.uuid4().hex}, "R": {"S": "ledger"},
                                       "Amount": {"N": "1250"}},
                ConditionExpression="attribute_not_exists(K)")

        for name, make in (
            ("GetItem", get),
            ("Query", lambda: query_call(aws_client("dynamodb", url), "big")),
            ("UpdateItem (OCC, after a GetItem)", update),
            ("PutItem (conditional)", put),
            ("TransactWriteItems", lambda: transact_call(aws_client("dynamodb", url), "big")),
        ):
            cpu_before = emulator_cpu_s(pid)
            rate = ops_per_s(make, ops_s)
            cpu_ms = (emulator_cpu_s(pid) - cpu_before) * 1000 / max(rate * ops_s, 1)
            out[f"{name} ops/s"] = rate
            out[f"{name} emulator CPU ms/op"] = cpu_ms
            print(f"   {name}: {rate:.0f} ops/s, emulator CPU {cpu_ms:.2f} ms/op", flush=True)
        out["RSS MB after micro"] = rss_mb([pid])
    return out


# -- soak ---------------------------------------------------------------------------------------

def soak(tree: Path, minutes: float) -> dict[str, float]:
    out: dict[str, float] = {}
    with emulator(tree) as (url, pid):
        ddb = aws_client("dynamodb", url)
        arn = make_table(ddb, "orders")
        sqs = aws_client("sqs", url)
        queue = sqs.create_queue(QueueName="soak")["QueueUrl"]
        stop = threading.Event()
        counts = {"writes": 0, "stream records read": 0}

        def writer() -> None:  # over a fixed set of keys: the table's size stays put
            client = aws_client("dynamodb", url)
            cw = aws_client("cloudwatch", url)
            rng = random.Random()
            while not stop.is_set():
                key = f"order-{rng.randrange(SOAK_KEYS)}"
                client.put_item(TableName="orders", Item={
                    "K": {"S": key}, "R": {"S": "order"},
                    "Lines": {"L": [{"M": {"Sku": {"S": f"sku-{n}"}, "Qty": {"N": "2"}}}
                                    for n in range(5)]}})
                client.transact_write_items(TransactItems=[
                    {"Update": {"TableName": "orders",
                                "Key": {"K": {"S": "stock"}, "R": {"S": "sku-1"}},
                                "UpdateExpression": "ADD Reserved :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                    {"Put": {"TableName": "orders",
                             "Item": {"K": {"S": key}, "R": {"S": "reservation"}}}}])
                cw.put_metric_data(Namespace="Soak", MetricData=[
                    {"MetricName": "Latency", "Value": 12.5, "Unit": "Milliseconds",
                     "StorageResolution": 1,
                     "Dimensions": [{"Name": "Service", "Value": "storefront"}]}])
                counts["writes"] += 3

        def queues_and_traces() -> None:
            xray = aws_client("xray", url)
            while not stop.is_set():
                sqs.send_message(QueueUrl=queue, MessageBody="x" * 500)
                for message in sqs.receive_message(QueueUrl=queue,
                                                   MaxNumberOfMessages=10).get("Messages", []):
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                trace = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
                xray.put_trace_segments(TraceSegmentDocuments=[json.dumps({
                    "name": "storefront", "id": uuid.uuid4().hex[:16], "trace_id": trace,
                    "start_time": time.time() - 0.05, "end_time": time.time()})])
                time.sleep(0.01)

        def consumer() -> None:  # reads the stream the way the stream runtime does
            streams = aws_client("dynamodbstreams", url)
            shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                                  ShardIteratorType="TRIM_HORIZON"
                                                  )["ShardIterator"]
            while not stop.is_set():
                page = streams.get_records(ShardIterator=iterator, Limit=100)
                counts["stream records read"] += len(page["Records"])
                iterator = page["NextShardIterator"]
                if not page["Records"]:
                    time.sleep(0.25)

        threads = [threading.Thread(target=f, daemon=True)
                   for f in (writer, writer, queues_and_traces, consumer)]
        start_rss = rss_mb([pid])
        started = time.monotonic()
        for t in threads:
            t.start()
        try:
            while (elapsed := time.monotonic() - started) < minutes * 60:
                time.sleep(min(30.0, minutes * 60 - elapsed))
                print(f"   {time.monotonic() - started:5.0f} s: RSS {rss_mb([pid]):6.0f} MB, "
                      f"{counts['writes']} writes, {counts['stream records read']} stream "
                      f"records read; retention: {retention_report(url)}", flush=True)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        end_rss = rss_mb([pid])
        out["soak RSS MB start"] = start_rss
        out["soak RSS MB end"] = end_rss
        out["soak RSS growth MB/min"] = (end_rss - start_rss) / minutes
        out["soak writes/s"] = counts["writes"] / (minutes * 60)
    return out


# -- gameday ------------------------------------------------------------------------------------

def aws_pids(state: dict[str, Any]) -> list[int]:
    """The emulator processes of a running stack (the `aws` group, or several `aws-*`)."""
    pids = []
    for name, group in state.get("services", {}).items():
        if name == "aws" or name.startswith("aws-"):
            pids += [r["pid"] for r in group["replicas"] if r.get("pid")]
    return pids


def retention_report(aws_url: str) -> str:
    """What the emulator holds and has dropped (this branch's /_local_stack/retention), or ''."""
    try:
        with urllib.request.urlopen(f"{aws_url}/_local_stack/retention", timeout=5) as answer:
            report = json.load(answer)
    except (OSError, ValueError):
        return "-"
    return f"held {report['held']}, dropped {report['dropped']}"


def wait_ready(state_dir: Path, up: subprocess.Popen[bytes], timeout_s: float = 180) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise SystemExit(f"gameday up exited with {up.returncode}")
        try:
            state = json.loads((state_dir / "state.json").read_text())
            if "ready_after_s" in state:
                return state
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.5)
    raise SystemExit("gameday up: not ready in time")


def gameday(tree: Path, runs: int, users: int) -> dict[str, float]:
    state_dir = Path(tempfile.mkdtemp(prefix="bench-emulator-"))
    env = tree_env(tree)
    gd = [sys.executable, "-m", "gameday"]
    up = subprocess.Popen([*gd, "up", "--port-base", "0", "--state-dir", str(state_dir)],
                          cwd=tree, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    out: dict[str, float] = {}
    try:
        state = wait_ready(state_dir, up)
        out["stack RSS MB at start (emulator)"] = rss_mb(aws_pids(state))
        print(f"   stack up after {state.get('ready_after_s')} s; emulator RSS "
              f"{out['stack RSS MB at start (emulator)']:.0f} MB", flush=True)
        for index in range(1, runs + 1):
            report = state_dir / f"load-{index}"
            subprocess.run([*gd, "load", "--state-dir", str(state_dir), "-u", str(users),
                            "-r", "30", "-t", "45s", "--out", str(report), "--",
                            "--think-time", "0.05:0.2"],
                           cwd=tree, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
            state = json.loads((state_dir / "state.json").read_text())
            total = json.loads((report / "summary.json").read_text())["total"]
            row = {"req/s": total["rps"], "p50 ms": total["p50_ms"], "p99 ms": total["p99_ms"],
                   "failures": total["failures"], "emulator RSS MB": rss_mb(aws_pids(state))}
            for key, value in row.items():
                out[f"run {index} {key}"] = value
            print(f"   run {index}: " + ", ".join(f"{k} {v:.0f}" for k, v in row.items()),
                  f"retention: {retention_report(state['urls']['aws'])}", flush=True)
    finally:
        subprocess.run([*gd, "down", "--state-dir", str(state_dir)], cwd=tree, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        shutil.rmtree(state_dir, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--other", type=Path, required=True,
                        help="the tree to compare with (e.g. a git worktree of main)")
    parser.add_argument("--only", default="micro,soak,gameday",
                        help="comma-separated sections (default: all)")
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--ops-s", type=float, default=8.0)
    parser.add_argument("--soak-min", type=float, default=3.0)
    parser.add_argument("--gameday-runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--this-first", action="store_true",
                        help="run this tree before the other in each section (the machine's "
                             "load drifts: run once each way)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    trees = {"other": args.other.resolve(), "this": REPO}
    if args.this_first:
        trees = {"this": REPO, "other": args.other.resolve()}
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - {"micro", "soak", "gameday"}
    if unknown:
        parser.error(f"unknown sections: {sorted(unknown)}")
    results: dict[str, dict[str, float]] = {label: {} for label in trees}
    for section in sections:
        for label, tree in trees.items():
            print(f"== {section}, {label} ({tree})", flush=True)
            if section == "micro":
                results[label].update(micro(tree, args.items, args.ops_s))
            elif section == "soak":
                results[label].update(soak(tree, args.soak_min))
            else:
                results[label].update(gameday(tree, args.gameday_runs, args.users))
    print(f"\n{'':44} {'other':>10} {'this':>10}")
    for key in results["this"]:
        other = results["other"].get(key)
        print(f"{key:44} {'' if other is None else f'{other:10.2f}':>10} "
              f"{results['this'][key]:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
