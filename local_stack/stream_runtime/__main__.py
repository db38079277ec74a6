"""Process entry point: ``python -m local_stack.stream_runtime --metrics-port P``.

Reads ``AWS_ENDPOINT_URL`` (the local moto endpoint; required, loopback only) and the region
from ``AWS_REGION``/``AWS_DEFAULT_REGION``. Flags:

``--metrics-port P``      Prometheus /metrics on 127.0.0.1:P (0 = pick a free port, logged)
``--functions a,b``       only the event source mappings of these functions (default: all)
``--poll-interval S``     seconds between GetRecords on an idle shard (default 0.25, as AWS)
``--refresh-interval S``  seconds between re-reads of mappings/concurrency (default 1)
``--checkpoint-file F``   persist shard checkpoints there (default: in memory only, so a
                          restart resumes at each mapping's StartingPosition)
``--shutdown-grace S``    at SIGTERM/SIGINT, in-flight invocations get S seconds (default 5);
                          unfinished ones are abandoned without checkpoint (redelivered)
``--function-log-dir D``  append each function's output to its log group's file under D
                          (``local_stack.log_groups``; default: the runtime's stderr)
``--no-cloudwatch``       do not publish to CloudWatch
``--log-level L``         default INFO

Exit status 0 after a signal-initiated stop, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType
from urllib.parse import urlparse

from local_stack.ports import check_loopback
from local_stack.stream_runtime.poller import RuntimeOptions
from local_stack.stream_runtime.runner import StreamRuntime

log = logging.getLogger("local_stack.stream_runtime")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.stream_runtime",
        description="Invoke Lambda-style handlers from DynamoDB Streams with Lambda's event "
                    "source mapping semantics, against the local AWS endpoint.",
    )
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--functions", default="",
                        help="comma-separated function names (default: all)")
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--refresh-interval", type=float, default=1.0)
    parser.add_argument("--checkpoint-file", default=None)
    parser.add_argument("--shutdown-grace", type=float, default=5.0)
    parser.add_argument("--function-log-dir", default=None,
                        help="write each function's output to its log group's file here")
    parser.add_argument("--no-cloudwatch", action="store_true")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if args.poll_interval <= 0 or args.refresh_interval <= 0:
        parser.error("--poll-interval and --refresh-interval must be > 0")
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if not endpoint:
        parser.error("AWS_ENDPOINT_URL must point at the local AWS endpoint")
    try:
        check_loopback(urlparse(endpoint).hostname or "")
    except ValueError as exc:
        parser.error(f"AWS_ENDPOINT_URL: {exc}")
    args.endpoint = endpoint
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    functions = [f.strip() for f in args.functions.split(",") if f.strip()] or None
    options = RuntimeOptions(poll_interval_s=args.poll_interval,
                             refresh_s=args.refresh_interval,
                             shutdown_grace_s=args.shutdown_grace)
    runtime = StreamRuntime(
        args.endpoint, region=region, functions=functions, options=options,
        metrics_port=args.metrics_port, checkpoint_file=args.checkpoint_file,
        cloudwatch=not args.no_cloudwatch, function_log_dir=args.function_log_dir,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runtime.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
