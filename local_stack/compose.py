"""The shop in containers (docker-compose.yml): what the containers run besides the local
stack's own entry points, and the state file that lets the host's tools drive the compose stack.

    python -m local_stack.compose ambassador --tcp LISTEN=TARGET ... -- COMMAND...
    python -m local_stack.compose serve --app reference_app.storefront.app:create_app --port 8080
    python -m local_stack.compose deploy         # one shot: tables, seed, functions, alarms
    python -m local_stack.compose chores         # heartbeats and the OnFailure queue depth
    python -m local_stack.compose transaction-manager
    python -m local_stack.compose health URL     # a container healthcheck (exit 0 when 2xx)
    python -m local_stack.compose state --state-dir .gameday-compose   # on the host

Why these exist:

- `ambassador`: the local stack's processes only talk to loopback (moto server, stream runtime
  and alarm evaluator refuse any other endpoint or bind address: they must never touch a real
  account or listen on a network). In a container, loopback is the container's own. The
  ambassador forwards TCP ports inside the container (e.g. `127.0.0.1:4566=aws:4566`: the
  emulator's container; `0.0.0.0:9101=127.0.0.1:9100`: publish a loopback-only /metrics to the
  compose network) and runs the unchanged command as its child, exiting with its status (so
  Docker's restart policy sees a crash as a crash).
- `serve`: one replica per container, on one port for traffic, health and /metrics (the load
  balancer replaces `local_stack.replica`'s SO_REUSEPORT entry port); same WSGI server and
  settings as `local_stack.replica`, and `SHOP_REPLICA_ID` defaults to the container's host name.
- `deploy`, `chores`, `transaction-manager`: what `gameday up` does in its own process (tables,
  seed data, functions, mappings, alarms; the chores thread) or starts with an argument known
  only after the deployment (the OnFailure queue's URL). `deploy` is idempotent: a second run
  seeds nothing and updates the functions and mappings in place.
- `state`: writes a gameday state file for the published ports, so `gameday load`, `gameday
  audit`, `gameday chaos ...` work against the compose stack (`--state-dir .gameday-compose`);
  `kill-replica` then kills containers through the Docker API (chaos/faults/compose_replica.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("local_stack.compose")

DEFAULT_PROJECT = "shop-gameday"
DEFAULT_TOKEN_SECRET = "compose-local-token-secret-change-me"  # the compose file's default too

# Ports inside the compose network (docker-compose.yml uses exactly these).
SERVICE_PORT = 8080  # every shop replica: traffic, /health, /metrics
AWS_PORT = 4566
AWS_LOOPBACK_PORT = 4567  # where moto listens inside its own container
REDIS_PORT = 6379
XRAY_PORT = 2000
STREAM_RUNTIME_METRICS_PORT = 9101  # published to the network by the ambassador
STREAM_RUNTIME_LOOPBACK_PORT = 9100
ALARM_EVALUATOR_METRICS_PORT = 9103
ALARM_EVALUATOR_LOOPBACK_PORT = 9102
SAGA_EXPORTER_PORT = 9110
LOCUST_WEB_PORT = 8089
LOCUST_EXPORTER_PORT = 9646
LB_PORTS = {"storefront": 8080, "payments": 8081, "reviews": 8082}
LB_STATS_PORT = 8404
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
GRAFANA_PORT = 3000

# What the compose file publishes on the host's 127.0.0.1.
PUBLISHED = {
    "storefront": LB_PORTS["storefront"],
    "payments": LB_PORTS["payments"],
    "reviews": LB_PORTS["reviews"],
    "lb_stats": LB_STATS_PORT,
    "aws": AWS_PORT,
    "redis": REDIS_PORT,
    "stream_runtime_metrics": STREAM_RUNTIME_METRICS_PORT,
    "alarm_evaluator_metrics": ALARM_EVALUATOR_METRICS_PORT,
    "saga_metrics": SAGA_EXPORTER_PORT,
    "prometheus": PROMETHEUS_PORT,
    "alertmanager": ALERTMANAGER_PORT,
    "grafana": GRAFANA_PORT,
    "locust": LOCUST_WEB_PORT,
}


# -- ambassador ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """Listen on listen_host:listen_port, connect each client to target_host:target_port."""

    listen_host: str
    listen_port: int
    target_host: str
    target_port: int

    @classmethod
    def parse(cls, text: str) -> Forward:
        """`[LISTEN_HOST:]PORT=TARGET_HOST:PORT` (listen host default 127.0.0.1)."""
        listen, sep, target = text.partition("=")
        if not sep:
            raise ValueError(f"--tcp {text!r}: expected LISTEN=TARGET, e.g. 127.0.0.1:4566="
                             "aws:4566")
        listen_host, _, listen_port = listen.rpartition(":")
        target_host, _, target_port = target.rpartition(":")
        try:
            ports = int(listen_port), int(target_port)
        except ValueError:
            raise ValueError(f"--tcp {text!r}: ports must be numbers") from None
        if not target_host or not all(0 < p < 65536 for p in ports):
            raise ValueError(f"--tcp {text!r}: expected LISTEN=TARGET, e.g. 127.0.0.1:4566="
                             "aws:4566")
        return cls(listen_host or "127.0.0.1", ports[0], target_host, ports[1])

    def __str__(self) -> str:
        return f"{self.listen_host}:{self.listen_port} -> {self.target_host}:{self.target_port}"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


class TcpForwarder:
    """The forwards of one ambassador, on an asyncio loop in a background thread."""

    def __init__(self, forwards: Sequence[Forward]) -> None:
        self.forwards = list(forwards)
        self.loop = asyncio.new_event_loop()
        self._servers: list[asyncio.base_events.Server] = []
        self._thread = threading.Thread(target=self.loop.run_forever, name="ambassador",
                                        daemon=True)
        self.connections = 0

    def start(self) -> list[int]:
        """Bind every listening socket (OSError if one is taken); returns the bound ports."""
        ports = []
        for forward in self.forwards:
            server = self.loop.run_until_complete(asyncio.start_server(
                lambda r, w, f=forward: self._client(r, w, f), forward.listen_host,
                forward.listen_port, reuse_address=True))
            self._servers.append(server)
            ports.append(int(server.sockets[0].getsockname()[1]))
        self._thread.start()
        return ports

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      forward: Forward) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(forward.target_host, forward.target_port), timeout=5)
        except (TimeoutError, OSError) as exc:
            log.debug("%s: cannot connect: %s", forward, exc)
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        for w in (writer, up_writer):
            w.close()

    def stop(self) -> None:
        def _close() -> None:
            for server in self._servers:
                server.close()
            self.loop.stop()

        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(_close)
            self._thread.join(timeout=5)


def run_ambassador(forwards: Sequence[Forward], command: Sequence[str]) -> int:
    """Start the forwards, run `command`, pass SIGTERM/SIGINT on; return its exit status."""
    if not command:
        raise ValueError("ambassador: give the command after --")
    forwarder = TcpForwarder(forwards)
    forwarder.start()
    for forward in forwards:
        log.info("forwarding %s", forward)
    child = subprocess.Popen(list(command))  # noqa: S603 - the container's own command

    def _pass_on(signum: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, _pass_on)
    signal.signal(signal.SIGINT, _pass_on)
    code = child.wait()
    forwarder.stop()
    log.info("%s exited with %s", command[0], code)
    return code if code >= 0 else 128 - code


# -- serve -----------------------------------------------------------------------------------


def serve(app_spec: str, port: int, host: str = "0.0.0.0", threads: int = 8) -> int:  # noqa: S104
    """One replica on host:port (waitress, the settings of local_stack.replica)."""
    import waitress

    from local_stack.replica import (
        WAITRESS_OPTIONS,
        exit_on_signals,
        load_app,
        quiet_waitress_queue,
    )

    os.environ.setdefault("SHOP_REPLICA_ID", socket.gethostname())
    app = load_app(app_spec)
    quiet_waitress_queue()
    exit_on_signals(log, app_spec)
    log.info("serving %s on %s:%d (replica %s)", app_spec, host, port,
             os.environ["SHOP_REPLICA_ID"])
    waitress.serve(app, host=host, port=port, threads=threads, **WAITRESS_OPTIONS)
    return 0


# -- deploy, chores, transaction manager -------------------------------------------------------


def _settings() -> Any:
    from reference_app.config import Settings

    return Settings.from_env()


def wait_for_endpoint(url: str, timeout_s: float) -> None:
    """Block until the AWS endpoint answers `/moto-api/` (TimeoutError after timeout_s)."""
    import requests

    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url.rstrip('/')}/moto-api/", timeout=2).status_code < 500:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"the AWS endpoint {url} did not answer in {timeout_s:.0f} s: {last}")


def catalog_seeded(settings: Any) -> bool:
    """True when the products table already holds rows (a second deploy must not reseed:
    seeding rewrites stock and would break its conservation)."""
    from reference_app import aws

    page = aws.client("dynamodb", settings).scan(TableName=settings.tables.products, Limit=1)
    return bool(page.get("Items"))


def deploy_stack(products: int = 120, seed: int = 42, wait_s: float = 120.0) -> dict[str, Any]:
    """Tables, seed data (once), functions, mappings, queues and alarms, as `gameday up`
    creates them; the function environment is this process's SHOP_* variables."""
    from local_stack.shop_deploy import MappingSettings, deploy
    from reference_app.seed import seed_catalog
    from reference_app.tables import create_tables

    settings = _settings()
    if not settings.aws_endpoint_url:
        raise ValueError("AWS_ENDPOINT_URL is not set")
    wait_for_endpoint(settings.aws_endpoint_url, wait_s)
    create_tables(settings)
    if catalog_seeded(settings):
        log.info("catalog already seeded: left as it is")
    else:
        log.info("seeded: %s", seed_catalog(settings, seed=seed, products=products))
    function_env = {k: v for k, v in os.environ.items()
                    if k.startswith("SHOP_") and k != "SHOP_SERVICE"}
    deployment = deploy(settings, function_env, MappingSettings(), alarms=True)
    return deployment.to_dict()


def queue_url(name: str, wait_s: float = 120.0) -> str:
    """The URL of queue `name`, waiting for the deployment to create it."""
    from reference_app import aws

    sqs = aws.client("sqs", _settings())
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except Exception as exc:  # not created yet, or the endpoint restarting
            if time.monotonic() >= deadline:
                raise TimeoutError(f"queue {name} not found after {wait_s:.0f} s: {exc}") from exc
            time.sleep(1)


def deployment_missing(ddb: Any, orders_table: str) -> bool:
    """True when the emulator has lost the tables (its container was restarted: moto keeps
    everything in memory): `ddb`, a DynamoDB client, finds no `orders_table`."""
    try:
        ddb.describe_table(TableName=orders_table)
    except ddb.exceptions.ResourceNotFoundException:
        return True
    return False


def run_chores(heartbeat_interval_s: float, state_dir: Path,
               redeploy_check_s: float = 10.0) -> int:
    """The chores `gameday up` runs on a thread (heartbeats, OnFailure queue depth), until
    SIGTERM; and, every `redeploy_check_s`, a new deployment when the emulator restarted empty
    (a restarted `aws` container would otherwise leave the shop without tables)."""
    from local_stack.chores import StackChores
    from local_stack.shop_deploy import ON_FAILURE_QUEUE
    from reference_app import aws

    settings = _settings()
    chores = StackChores(state_dir, settings, queue_url(ON_FAILURE_QUEUE), heartbeat_interval_s)
    ddb = aws.client("dynamodb", settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    chores.start()
    log.info("chores running (heartbeat every %g s)", heartbeat_interval_s)
    while not stop.wait(redeploy_check_s):
        try:
            if deployment_missing(ddb, settings.tables.orders):
                log.warning("the AWS emulator lost its tables (restarted?): deploying again; "
                            "the shop's data is gone")
                deploy_stack()
        except Exception as exc:  # the emulator restarting: try again later
            log.warning("deployment check failed: %s", exc)
    chores.stop()
    return 0


def run_transaction_manager() -> int:
    from local_stack.shop_deploy import ON_FAILURE_QUEUE
    from reference_app import transaction_manager

    return transaction_manager.main(["--queue-url", queue_url(ON_FAILURE_QUEUE)])


def health(url: str, timeout_s: float = 3.0) -> int:
    """0 when `url` answers 2xx, 1 otherwise (for a container healthcheck)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310
            return 0 if 200 <= resp.status < 300 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


# -- the host's state file -------------------------------------------------------------------


def compose_state(project: str = DEFAULT_PROJECT, host: str = "127.0.0.1",
                  token_secret: str = DEFAULT_TOKEN_SECRET, table_prefix: str = "shop-",
                  region: str = "us-east-1", state_dir: Path | None = None,
                  deployment: dict[str, Any] | None = None) -> dict[str, Any]:
    """A gameday state file for the compose stack's published ports."""
    from local_stack.stack import LOCAL_AWS_ENV
    from reference_app.tokens import issue_token

    def url(key: str, scheme: str = "http") -> str:
        return f"{scheme}://{host}:{PUBLISHED[key]}"

    urls = {key: url(key) for key in ("storefront", "payments", "reviews", "aws",
                                      "prometheus", "alertmanager", "grafana", "locust")}
    urls.update({
        "redis": f"{url('redis', 'redis')}/0",
        "stream_runtime_metrics": f"{url('stream_runtime_metrics')}/metrics",
        "alarm_evaluator_metrics": f"{url('alarm_evaluator_metrics')}/metrics",
        "saga_metrics": f"{url('saga_metrics')}/metrics",
        "lb_stats": f"{url('lb_stats')}/stats",
    })
    env = {**LOCAL_AWS_ENV, "AWS_DEFAULT_REGION": region, "AWS_ENDPOINT_URL": urls["aws"],
           "SHOP_TABLE_PREFIX": table_prefix, "SHOP_REDIS_URL": urls["redis"],
           "SHOP_PAYMENTS_URL": urls["payments"], "SHOP_REVIEWS_URL": urls["reviews"],
           "SHOP_TOKEN_SECRET": token_secret}
    return {
        "version": 1,
        "kind": "compose",
        "compose": {"project": project, "docker_host": os.environ.get("DOCKER_HOST")},
        "started_at": time.time(),
        "state_dir": str(state_dir) if state_dir else None,
        "table_prefix": table_prefix,
        "region": region,
        "urls": urls,
        "services": {},
        "deployment": deployment or {},
        "tokens": {
            "admin": issue_token("gameday-admin", "admin", secret=token_secret),
            "service": issue_token("gameday", "service", secret=token_secret),
        },
        "token_secret": token_secret,
        "env": env,
        "ready_after_s": 0.0,
    }


def read_deployment(aws_url: str, region: str) -> dict[str, Any]:
    """What the compose stack's `deploy` created, read back from the emulator."""
    import boto3

    from dashboards.cloudwatch_alarms import STREAM_FUNCTIONS
    from local_stack.shop_deploy import ON_FAILURE_QUEUE, SECOND_LOOK_QUEUE

    session = boto3.session.Session(aws_access_key_id="testing",
                                    aws_secret_access_key="testing", region_name=region)
    lam = session.client("lambda", endpoint_url=aws_url)
    sqs = session.client("sqs", endpoint_url=aws_url)
    cloudwatch = session.client("cloudwatch", endpoint_url=aws_url)
    out: dict[str, Any] = {"functions": {}, "mappings": {}, "queues": {}, "alarms": []}
    for name in STREAM_FUNCTIONS:
        for mapping in lam.list_event_source_mappings(FunctionName=name).get(
                "EventSourceMappings", []):
            out["functions"][name] = mapping["EventSourceArn"]
            out["mappings"][name] = mapping["UUID"]
    for name in (ON_FAILURE_QUEUE, SECOND_LOOK_QUEUE):
        out["queues"][name] = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    out["alarms"] = [a["AlarmName"] for a in cloudwatch.describe_alarms().get(
        "MetricAlarms", [])]
    return out


# -- command line ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_stack.compose",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    amb = sub.add_parser("ambassador", help="forward TCP ports and run a command")
    amb.add_argument("--tcp", action="append", default=[], metavar="LISTEN=TARGET",
                     help="[HOST:]PORT=HOST:PORT, e.g. 127.0.0.1:4566=aws:4566 (repeatable)")
    amb.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command to run")

    srv = sub.add_parser("serve", help="one shop replica on one port")
    srv.add_argument("--app", required=True, help="module:factory of the WSGI app")
    srv.add_argument("--host", default="0.0.0.0")  # noqa: S104 - inside a container
    srv.add_argument("--port", type=int, default=SERVICE_PORT)
    srv.add_argument("--threads", type=int, default=8)

    dep = sub.add_parser("deploy", help="tables, seed data, functions, mappings, alarms")
    dep.add_argument("--products", type=int, default=120)
    dep.add_argument("--seed", type=int, default=42)
    dep.add_argument("--wait", type=float, default=120.0,
                     help="seconds to wait for the AWS endpoint (default 120)")

    chores = sub.add_parser("chores", help="stream heartbeats and the OnFailure queue depth")
    from reference_app.heartbeat import HEARTBEAT_INTERVAL_S  # a leaf module: constants, boto3

    chores.add_argument("--heartbeat-interval", type=float, default=HEARTBEAT_INTERVAL_S)
    chores.add_argument("--state-dir", type=Path, default=Path("/tmp/gameday-chores"))  # noqa: S108

    sub.add_parser("transaction-manager", help="cancel the orders sent to OnFailure")

    hc = sub.add_parser("health", help="exit 0 when the URL answers 2xx")
    hc.add_argument("url")
    hc.add_argument("--timeout", type=float, default=3.0)

    state = sub.add_parser("state", help="write a gameday state file for the compose stack")
    state.add_argument("--state-dir", type=Path, default=Path(".gameday-compose"))
    state.add_argument("--project", default=os.environ.get("COMPOSE_PROJECT_NAME",
                                                           DEFAULT_PROJECT))
    state.add_argument("--host", default="127.0.0.1",
                       help="where the ports are published (default 127.0.0.1)")
    state.add_argument("--token-secret",
                       default=os.environ.get("SHOP_TOKEN_SECRET", DEFAULT_TOKEN_SECRET))
    state.add_argument("--no-deployment", action="store_true",
                       help="do not read functions/queues/alarms from the emulator")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    if args.command == "ambassador":
        command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        try:
            forwards = [Forward.parse(text) for text in args.tcp]
        except ValueError as exc:
            parser.error(str(exc))
        if not command:
            parser.error("ambassador: give the command after --")
        return run_ambassador(forwards, command)
    if args.command == "serve":
        return serve(args.app, args.port, args.host, args.threads)
    if args.command == "deploy":
        deployment = deploy_stack(args.products, args.seed, args.wait)
        log.info("deployed: %d functions, %d alarms", len(deployment["functions"]),
                 len(deployment["alarms"]))
        return 0
    if args.command == "chores":
        return run_chores(args.heartbeat_interval, args.state_dir)
    if args.command == "transaction-manager":
        return run_transaction_manager()
    if args.command == "health":
        return health(args.url, args.timeout)
    # state
    from local_stack.state import write_state

    aws_url = f"http://{args.host}:{PUBLISHED['aws']}"
    deployment = None if args.no_deployment else read_deployment(aws_url, "us-east-1")
    state_dir = args.state_dir.resolve()
    path = write_state(compose_state(args.project, args.host, args.token_secret,
                                     state_dir=state_dir, deployment=deployment), state_dir)
    print(f"{path}: use --state-dir {args.state_dir} with gameday load / audit / chaos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
