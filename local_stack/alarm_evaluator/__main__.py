"""Command line: ``python -m local_stack.alarm_evaluator [--interval 1] [--metrics-port P]
[--log-dir DIR]``.

``--log-dir`` is where the local log groups are (``local_stack.log_groups``): with it the
Contributor Insights rules stored in the endpoint are evaluated from those files and
``INSIGHT_RULE_METRIC`` alarms work (``local_stack.insight_rules``); without it such alarms are
not evaluated (logged).

Targets the CloudWatch API at ``AWS_ENDPOINT_URL`` (or ``--endpoint-url``), which must be a
loopback address: the evaluator writes alarm states, and must never do so in a real account.
SIGTERM or SIGINT stops it after the current round.
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

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from local_stack.alarm_evaluator.prom import AlarmStateMetrics
from local_stack.alarm_evaluator.runner import AlarmEvaluator
from local_stack.ports import check_loopback

log = logging.getLogger("local_stack.alarm_evaluator")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.alarm_evaluator",
        description="Evaluate the CloudWatch metric alarms stored in a local (moto) endpoint.",
    )
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between evaluation rounds (default 1)")
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="serve Prometheus /metrics on 127.0.0.1:PORT (0: a free port)")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                        help="CloudWatch endpoint (default: $AWS_ENDPOINT_URL)")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--log-dir", default=None,
                        help="the local log groups' files: evaluate Contributor Insights rules")
    parser.add_argument("--once", action="store_true", help="run one round and exit")
    parser.add_argument("--log-level", default="INFO")
    return parser


def warn_without_history(endpoint_url: str, region: str) -> None:
    """Say so once when the endpoint has no DescribeAlarmHistory (moto without moto_history):
    states still work, history does not."""
    probe = boto3.client("cloudwatch", endpoint_url=endpoint_url, region_name=region,
                         config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    try:
        probe.describe_alarm_history(MaxRecords=1)
    except EndpointConnectionError:
        return  # not up yet: nothing to tell
    except (BotoCoreError, ClientError) as exc:
        log.warning("DescribeAlarmHistory does not work on %s (%s): alarm states are written, "
                    "but their history is only readable when the moto server process has "
                    "called local_stack.alarm_evaluator.moto_history.install()",
                    endpoint_url, exc.__class__.__name__)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.endpoint_url:
        parser.error("no endpoint: set AWS_ENDPOINT_URL or pass --endpoint-url")
    try:
        check_loopback(urlparse(args.endpoint_url).hostname or "")
    except ValueError as exc:
        parser.error(f"--endpoint-url: {exc}")
    if args.interval <= 0:
        parser.error("--interval must be > 0")

    cloudwatch = boto3.client("cloudwatch", endpoint_url=args.endpoint_url,
                              region_name=args.region)
    metrics = AlarmStateMetrics()
    insights = None
    if args.log_dir:
        from local_stack.insight_rules.source import InsightRuleSource

        insights = InsightRuleSource(cloudwatch, args.log_dir)
        insights.register(metrics.registry)
    evaluator = AlarmEvaluator(cloudwatch, metrics=metrics, insights=insights)
    if args.metrics_port is not None:
        port = metrics.serve(args.metrics_port)
        log.info("Prometheus metrics on http://127.0.0.1:%d/metrics", port)
    warn_without_history(args.endpoint_url, args.region)
    if args.once:
        evaluator.run_once()
        return 0

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("evaluating the alarms of %s every %.3g s", args.endpoint_url, args.interval)
    evaluator.run_forever(args.interval, stop)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
