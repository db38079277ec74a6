"""The whole shop on loopback: Redis, the local AWS endpoint, tables and seed data, the services
with their replicas, the stream runtime, the transaction manager and the alarm evaluator, under
one supervisor; plus the recurring chores (local_stack.chores).

`LocalStack(config).start()` brings it up in dependency order and writes the state file;
`stop()` takes it down in reverse order and removes the state file. Nothing here is Docker or
AWS: every piece is a real process on 127.0.0.1.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.chores import StackChores
from local_stack.ports import LOOPBACK, free_port, is_port_bound
from local_stack.redis_server import find_redis_binary, redis_argv
from local_stack.shop_deploy import ON_FAILURE_QUEUE, MappingSettings, deploy
from local_stack.state import state_path, write_state
from local_stack.stream_runtime.metrics import HANDLER_METRICS_ENV
from local_stack.supervisor import ProcessSpec, Supervisor
from reference_app.heartbeat import HEARTBEAT_INTERVAL_S

log = logging.getLogger("local_stack.stack")

AWS_REGION = "us-east-1"
# moto accepts any credentials; these make sure nothing ever reaches a real account by accident.
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": AWS_REGION,
}

SERVICE_APPS = {
    "storefront": "reference_app.storefront.app:create_app",
    "payments": "reference_app.payments.app:create_app",
    "reviews": "reference_app.reviews.app:create_app",
}


@dataclass
class StackConfig:
    """Everything `gameday up` can be told; defaults work on a laptop."""

    state_dir: Path
    port_base: int = 8700  # 0: every port picked free at random
    storefront_replicas: int = 2
    payments_replicas: int = 2
    reviews_replicas: int = 1
    seed: int = 42
    products: int = 120
    replace_delay_s: float = 1.0
    table_prefix: str = "shop-"
    extra_env: dict[str, str] = field(default_factory=dict)
    start_timeout_s: float = 60.0
    mapping: MappingSettings = field(default_factory=MappingSettings)
    alarms: bool = True
    heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S

    def validate(self) -> None:
        for name in ("storefront_replicas", "payments_replicas", "reviews_replicas"):
            value = getattr(self, name)
            if not 1 <= value <= 8:
                raise ValueError(f"{name.replace('_', '-')} must be between 1 and 8, got {value}")
        if self.port_base and not 1024 <= self.port_base <= 65000:
            raise ValueError(f"port-base must be 0 or between 1024 and 65000, got {self.port_base}")
        if not 1 <= self.products <= 5000:
            raise ValueError(f"products must be between 1 and 5000, got {self.products}")
        if self.replace_delay_s < 0:
            raise ValueError(f"replace-delay must be >= 0, got {self.replace_delay_s}")


class PortPlan:
    """Hands out ports: consecutive from port_base (checked free), or random free ones."""

    def __init__(self, base: int) -> None:
        self._next = base

    def take(self, what: str) -> int:
        if self._next == 0:
            return free_port()
        port = self._next
        self._next += 1
        if is_port_bound(port):
            raise RuntimeError(
                f"port {port} (for {what}) is already in use: is another stack running? "
                "Stop it with `gameday down`, or pass --port-base 0 for random free ports"
            )
        return port


class LocalStack:
    """Start/stop the local stack; `state` is what the state file holds."""

    def __init__(self, config: StackConfig) -> None:
        config.validate()
        self.config = config
        self.state_dir = config.state_dir
        self.supervisor = Supervisor(
            config.state_dir, config.replace_delay_s, on_change=self._write_state
        )
        self.state: dict[str, Any] = {}
        self._ports = PortPlan(config.port_base)
        self.chores: StackChores | None = None

    # -- helpers ----------------------------------------------------------------------------
    def _logs(self) -> Path:
        return self.state_dir / "logs"

    def _python(self, *args: str) -> list[str]:
        return [sys.executable, "-u", *args]

    def _write_state(self) -> None:
        if self.state:
            self.state["services"] = self.supervisor.describe()
            write_state(self.state, self.state_dir)

    # -- start ------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        t0 = time.monotonic()
        cfg = self.config
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "holds").mkdir(exist_ok=True)
        if state_path(self.state_dir).exists():
            state_path(self.state_dir).unlink()
        self.supervisor.event("stack_starting", "stack")

        entry = {name: self._ports.take(f"{name} entry") for name in SERVICE_APPS}
        aws_port = self._ports.take("aws endpoint")
        redis_port = self._ports.take("redis")
        xray_port = self._ports.take("x-ray receiver (udp)")
        aws_url = f"http://{LOOPBACK}:{aws_port}"
        redis_url = f"redis://{LOOPBACK}:{redis_port}/0"
        token_secret = secrets.token_hex(32)

        base_env = {
            **LOCAL_AWS_ENV,
            "AWS_ENDPOINT_URL": aws_url,
            "SHOP_TABLE_PREFIX": cfg.table_prefix,
            "SHOP_REDIS_URL": redis_url,
            "SHOP_PAYMENTS_URL": f"http://{LOOPBACK}:{entry['payments']}",
            "SHOP_REVIEWS_URL": f"http://{LOOPBACK}:{entry['reviews']}",
            "SHOP_TOKEN_SECRET": token_secret,
            "PYTHONUNBUFFERED": "1",
            # the X-Ray SDK must never block or fail a request when no daemon listens
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": f"{LOOPBACK}:{xray_port}",
            **cfg.extra_env,
        }
        os.environ.update({k: v for k, v in base_env.items() if k.startswith("AWS_")})
        os.environ["SHOP_TABLE_PREFIX"] = cfg.table_prefix
        os.environ["SHOP_TOKEN_SECRET"] = token_secret

        # 1. Redis and the AWS endpoint. Redis is replaced like a replica when it dies (same
        # port, so every client's URL stays valid): the shop treats it as a cache and a shared
        # breaker store with fallbacks, not as a reason to stop. moto is not: its memory is
        # the data.
        self.supervisor.start_group(
            "redis",
            [ProcessSpec("redis", redis_argv(find_redis_binary(), redis_port), {},
                         self._logs() / "redis.log", port=redis_port)],
            restart=True,
            timeout_s=cfg.start_timeout_s,
        )
        self.supervisor.start_group(
            "aws",
            [ProcessSpec("aws", self._aws_server_argv(aws_port), base_env,
                         self._logs() / "aws.log", port=aws_port, health_path="/moto-api/")],
            restart=False,
            timeout_s=cfg.start_timeout_s,
        )

        self.supervisor.start_group(
            "xray",
            [ProcessSpec("xray", self._python("-m", "local_stack.xray_daemon", "--port",
                                              str(xray_port)),
                         base_env, self._logs() / "xray.log")],
            restart=True,
            timeout_s=cfg.start_timeout_s,
        )

        # 2. tables and seed data
        from reference_app.config import Settings
        from reference_app.seed import seed_catalog
        from reference_app.tables import create_tables

        settings = Settings.from_env()
        t_seed = time.monotonic()
        create_tables(settings)
        seed_summary = seed_catalog(settings, seed=cfg.seed, products=cfg.products)
        log.info("tables created and catalog seeded in %.1f s: %s",
                 time.monotonic() - t_seed, seed_summary)
        function_env = {k: v for k, v in base_env.items()
                        if k.startswith("SHOP_") and k not in ("SHOP_SERVICE",)}
        deployment = deploy(settings, function_env, cfg.mapping, alarms=cfg.alarms)

        # 3. the services, each a group of replicas behind its entry port
        counts = {
            "storefront": cfg.storefront_replicas,
            "payments": cfg.payments_replicas,
            "reviews": cfg.reviews_replicas,
        }
        for name in ("payments", "reviews", "storefront"):
            specs = []
            for index in range(1, counts[name] + 1):
                port = self._ports.take(f"{name}-{index}")
                env = {**base_env, "SHOP_SERVICE": name, "SHOP_REPLICA_ID": str(index)}
                argv = self._python("-m", "local_stack.replica", "--app", SERVICE_APPS[name],
                                    "--entry-port", str(entry[name]), "--port", str(port))
                specs.append(ProcessSpec(f"{name}-{index}", argv, env,
                                         self._logs() / f"{name}-{index}.log",
                                         port=port, health_path="/health"))
            self.supervisor.start_group(name, specs, restart=True, timeout_s=cfg.start_timeout_s)

        # 4. the stream consumers (Lambda's stand-in), the transaction manager, the alarms
        runtime_port = self._ports.take("stream runtime metrics")
        # the functions' logs, one file per CloudWatch Logs group (local_stack.log_groups):
        # written by the runtime, read by the evaluator's Contributor Insights rules
        log_groups_dir = self._logs() / "log-groups"
        shutil.rmtree(log_groups_dir, ignore_errors=True)
        handler_metrics = self.state_dir / "handler-metrics"
        shutil.rmtree(handler_metrics, ignore_errors=True)  # counters start from zero
        self.supervisor.start_group("stream-runtime", [ProcessSpec(
            "stream-runtime-1",
            self._python("-m", "local_stack.stream_runtime", "--metrics-port", str(runtime_port),
                         "--checkpoint-file", str(self._checkpoint_file()),
                         "--function-log-dir", str(log_groups_dir)),
            {**base_env, HANDLER_METRICS_ENV: str(handler_metrics)},
            self._logs() / "stream-runtime-1.log", port=runtime_port,
        )], restart=True, timeout_s=cfg.start_timeout_s)
        on_failure_url = deployment.queues[ON_FAILURE_QUEUE]
        self.supervisor.start_group("transaction-manager", [ProcessSpec(
            "transaction-manager-1",
            self._python("-m", "reference_app.transaction_manager", "--queue-url", on_failure_url),
            {**base_env, "SHOP_SERVICE": "transaction-manager"},
            self._logs() / "transaction-manager-1.log",
        )], restart=True, timeout_s=cfg.start_timeout_s)
        evaluator_port = self._ports.take("alarm evaluator metrics")
        self.supervisor.start_group("alarm-evaluator", [ProcessSpec(
            "alarm-evaluator-1",
            self._python("-m", "local_stack.alarm_evaluator", "--interval", "1",
                         "--metrics-port", str(evaluator_port), "--log-dir",
                         str(log_groups_dir)),
            base_env, self._logs() / "alarm-evaluator-1.log", port=evaluator_port,
        )], restart=True, timeout_s=cfg.start_timeout_s)

        saga_port = self._ports.take("saga exporter metrics")
        self.supervisor.start_group("saga-exporter", [ProcessSpec(
            "saga-exporter-1",
            self._python("-m", "local_stack.saga_exporter", "--port", str(saga_port)),
            {**base_env, "SHOP_SERVICE": "saga-exporter"},
            self._logs() / "saga-exporter-1.log", port=saga_port,
        )], restart=True, timeout_s=cfg.start_timeout_s)

        from reference_app.tokens import issue_token

        self.state = {
            "version": 1,
            "supervisor_pid": os.getpid(),
            "started_at": time.time(),
            "state_dir": str(self.state_dir),
            "seed": cfg.seed,
            "seed_summary": seed_summary,
            "table_prefix": cfg.table_prefix,
            "region": AWS_REGION,
            "urls": {
                "storefront": f"http://{LOOPBACK}:{entry['storefront']}",
                "payments": f"http://{LOOPBACK}:{entry['payments']}",
                "reviews": f"http://{LOOPBACK}:{entry['reviews']}",
                "aws": aws_url,
                "redis": redis_url,
                "xray_udp": f"udp://{LOOPBACK}:{xray_port}",
                "stream_runtime_metrics": f"http://{LOOPBACK}:{runtime_port}/metrics",
                "alarm_evaluator_metrics": f"http://{LOOPBACK}:{evaluator_port}/metrics",
                "saga_metrics": f"http://{LOOPBACK}:{saga_port}/metrics",
            },
            "deployment": deployment.to_dict(),
            "tokens": {
                "admin": issue_token("gameday-admin", "admin", secret=token_secret),
                "service": issue_token("gameday", "service", secret=token_secret),
            },
            "token_secret": token_secret,
            "env": base_env,
        }
        self._write_state()
        self.supervisor.watch()
        self.chores = StackChores(self.state_dir, settings, on_failure_url,
                                  cfg.heartbeat_interval_s)
        self.chores.start()
        self.state["ready_after_s"] = round(time.monotonic() - t0, 2)
        self._write_state()
        self.supervisor.event("stack_ready", "stack", seconds=self.state["ready_after_s"])
        return self.state

    def _checkpoint_file(self) -> Path:
        """The stream runtime's checkpoints; the emulator reads them too, so that it never trims
        a stream record a mapping has not passed (local_stack.retention.streams)."""
        return self.state_dir / "stream-checkpoints.json"

    def _aws_server_argv(self, port: int) -> list[str]:
        # moto with its own Lambda invocation switched off, DynamoDB isolation fixed, retention
        return self._python("-m", "local_stack.aws_server", "--host", LOOPBACK, "--port", str(port),
                            "--stream-checkpoints", str(self._checkpoint_file()))

    # -- stop -------------------------------------------------------------------------------
    def stop(self) -> None:
        if self.chores is not None:
            self.chores.stop()
        self.supervisor.stop_all()
        state_path(self.state_dir).unlink(missing_ok=True)
        holds = self.state_dir / "holds"
        if holds.exists():
            shutil.rmtree(holds, ignore_errors=True)
        self.supervisor.event("stack_stopped", "stack")
