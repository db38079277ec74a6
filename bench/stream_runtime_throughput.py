"""Benchmark of local_stack.stream_runtime: records/s per consumer, and IteratorAge at a steady
write rate. Run on demand (not part of the tests):

    python bench/stream_runtime_throughput.py [--consumers 2] [--records 5000] [--batch-size 100]
                                              [--rate 200] [--seconds 10]

It starts ``python -m local_stack.aws_server`` on a free loopback port, creates one table and
one function (the trivial ``handler`` below) per consumer, then

1. backlog: writes --records items per table while the mappings are disabled, enables them,
   and times how long each consumer takes to process its backlog (records/s per consumer);
2. steady: writes --rate records/s spread over the tables for --seconds, sampling the
   iterator age gauge (age of the oldest unfinished record) every 0.1 s, and reports the
   IteratorAge values the runtime would publish to CloudWatch.

Everything stops by itself; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def handler(event: dict[str, Any], context: Any) -> None:
    """The trivial Lambda handler being benchmarked."""
    return None


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    sys.path.insert(0, str(REPO))
    import boto3

    from local_stack.ports import free_port, wait_for_port
    from local_stack.stream_runtime import RuntimeOptions, StreamRuntime
    from local_stack.stream_runtime.deploy import create_mapping, deploy_function

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--records", type=int, default=5000, help="backlog per consumer")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200.0, help="steady writes/s in total")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(env)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "local_stack.aws_server", "--port", str(port),
         "--log-level", "WARNING"], cwd=REPO, env={**os.environ}, start_new_session=True)
    runtime = None
    try:
        wait_for_port(port, 30)
        endpoint = f"http://127.0.0.1:{port}"

        def client(service: str) -> Any:
            return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")

        ddb, lam, iam = client("dynamodb"), client("lambda"), client("iam")
        consumers = []
        for i in range(args.consumers):
            table, function = f"bench-{i}", f"bench-fn-{i}"
            desc = ddb.create_table(
                TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True,
                                     "StreamViewType": "NEW_AND_OLD_IMAGES"})
            deploy_function(lam, function, "bench.stream_runtime_throughput.handler", {},
                            iam_client=iam)
            mapping = create_mapping(lam, function, desc["TableDescription"]["LatestStreamArn"],
                                     BatchSize=args.batch_size, Enabled=False)
            consumers.append((table, function, mapping["UUID"]))

        t0 = time.monotonic()
        for table, _, _ in consumers:
            for start in range(0, args.records, 25):
                ddb.batch_write_item(RequestItems={table: [
                    {"PutRequest": {"Item": {"pk": {"S": f"backlog-{n}"}, "v": {"N": str(n)}}}}
                    for n in range(start, min(args.records, start + 25))]})
        write_s = time.monotonic() - t0
        print(f"backlog: wrote {args.records} records x {args.consumers} tables "
              f"in {write_s:.1f} s ({args.records * args.consumers / write_s:.0f} writes/s)")

        options = RuntimeOptions(refresh_s=0.5)
        runtime = StreamRuntime(endpoint, functions=[c[1] for c in consumers], options=options,
                                metrics_port=0)
        runtime.start()
        time.sleep(1.0)  # environments are spawned lazily; let the registry settle
        started = time.monotonic()
        for _, _, uuid in consumers:
            lam.update_event_source_mapping(UUID=uuid, Enabled=True)

        def processed(function: str) -> float:
            return runtime.metrics.records.labels(function, "processed")._value.get()

        done: dict[str, float] = {}
        deadline = time.monotonic() + 300
        while len(done) < len(consumers) and time.monotonic() < deadline:
            for _, function, _ in consumers:
                if function not in done and processed(function) >= args.records:
                    done[function] = time.monotonic() - started
            time.sleep(0.02)
        for _, function, _ in consumers:
            took = done.get(function)
            if took is None:
                print(f"{function}: did not finish ({processed(function):.0f} processed)")
            else:
                print(f"{function}: {args.records} records in {took:.2f} s = "
                      f"{args.records / took:.0f} records/s (batch size {args.batch_size}; "
                      "includes up to 0.5 s until the runtime sees the mapping enabled)")

        # steady rate
        print(f"steady: {args.rate:.0f} writes/s over {len(consumers)} tables "
              f"for {args.seconds:.0f} s")
        interval = 1.0 / args.rate
        ages: list[float] = []
        next_write = time.monotonic()
        end = next_write + args.seconds
        n = 0
        next_sample = time.monotonic()
        behind = 0
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                ages.append(max(runtime.iterator_ages().values(), default=0.0))
                next_sample += 0.1
            if now >= next_write:
                table = consumers[n % len(consumers)][0]
                ddb.put_item(TableName=table, Item={"pk": {"S": f"steady-{n}"}})
                n += 1
                next_write += interval
                if time.monotonic() - next_write > 1.0:
                    behind += 1  # more than a second late: the target rate is not reached
            else:
                time.sleep(min(next_write, next_sample) - now)
        actual_rate = n / args.seconds
        print(f"steady: wrote {n} records ({actual_rate:.0f}/s actual"
              f"{', below target: the writer could not keep up' if behind else ''})")
        print(f"iterator age (oldest unfinished record) over the run: "
              f"median {statistics.median(ages) * 1000:.0f} ms, "
              f"p95 {_pct(ages, 0.95) * 1000:.0f} ms, max {max(ages) * 1000:.0f} ms")
        hist = runtime.metrics.duration
        for _, function, _ in consumers:
            samples = {s.name: s.value for s in hist.collect()[0].samples
                       if s.labels.get("function") == function and not s.name.endswith("_bucket")}
            count = samples.get("stream_runtime_duration_seconds_count", 0)
            total = samples.get("stream_runtime_duration_seconds_sum", 0)
            print(f"{function}: {count:.0f} invocations, mean handler duration "
                  f"{(total / count * 1e6) if count else 0:.0f} µs")
    finally:
        if runtime is not None:
            runtime.stop()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
