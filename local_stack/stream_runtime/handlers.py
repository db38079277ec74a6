"""Invoking a Lambda-style Python handler the way the Lambda Python runtime does.

Each function gets execution environments: worker processes (``python -m
local_stack.stream_runtime.worker``) that import the handler once (the cold start) and then
serve invocations one at a time, like Lambda's sandboxes. That buys what an in-thread call
cannot give:

* the function's environment variables (``Environment.Variables`` plus the ``AWS_LAMBDA_*``
  variables Lambda sets) are that process's ``os.environ``, so two functions never see each
  other's values;
* the function ``Timeout`` is real: a handler still running at the deadline is killed with its
  environment ("Task timed out after N seconds"), and the next invocation cold-starts;
* a handler that crashes or calls ``sys.exit`` fails its invocation, not the runtime.

Environments are reused while idle and replaced when the function configuration (handler,
environment, timeout, memory) changes, as Lambda does after UpdateFunctionConfiguration.
The base environment of a worker is the runtime's own (endpoint URL, credentials, PYTHONPATH),
with the function's variables on top.

With a log directory (``--function-log-dir``), a worker's stdout/stderr — the function's log
stream — is appended to the file of the function's log group (``/aws/lambda/<name>``,
``local_stack.log_groups``), as Lambda sends it to CloudWatch Logs; that is what the local
Contributor Insights rules read. Without one, workers write to the runtime's own stderr.

Reserved concurrency is enforced here too: ``try_acquire`` fails (a throttle) when the function
already runs ``ReservedConcurrentExecutions`` invocations; 0 throttles every invocation.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.log_groups import log_group_path
from local_stack.stream_runtime.metrics import HANDLER_METRICS_ENV

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
INIT_TIMEOUT_S = 30.0  # Lambda gives init 10 s; a loaded 2-core machine needs more


# --------------------------------------------------------------------------------------------
# Function configuration and the handler itself
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunctionConfig:
    """What the Lambda API says about a function (GetFunctionConfiguration + concurrency)."""

    name: str
    arn: str
    handler: str
    env: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 3.0
    memory_mb: int = 128
    reserved_concurrency: int | None = None  # None: unreserved
    region: str = "us-east-1"

    @property
    def environment_key(self) -> tuple[Any, ...]:
        """Changes when an execution environment must be replaced."""
        return (self.handler, tuple(sorted(self.env.items())), self.timeout_s, self.memory_mb)

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


def resolve_handler(handler: str) -> Callable[[Any, Any], Any]:
    """``package.module.function`` (or ``package/module.function``) → the callable, as the
    Lambda Python runtime resolves ``Handler``."""
    module_name, sep, func_name = handler.replace("/", ".").rpartition(".")
    if not sep or not module_name or not func_name:
        raise ValueError(f"bad handler {handler!r}: expected module.function")
    module = importlib.import_module(module_name)
    try:
        func = getattr(module, func_name)
    except AttributeError as exc:
        raise AttributeError(f"handler {func_name!r} missing on module {module_name!r}") from exc
    if not callable(func):
        raise TypeError(f"{handler} is not callable")
    return func


class LambdaContext:
    """The ``context`` argument of a Python handler (the attributes the Lambda runtime sets)."""

    def __init__(
        self, *, function_name: str, function_arn: str, memory_mb: int | str,
        aws_request_id: str, deadline_epoch_ms: int, log_group_name: str, log_stream_name: str,
        function_version: str = "$LATEST",
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = function_arn
        # the Lambda runtime takes it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string
        self.memory_limit_in_mb = str(memory_mb)
        self.aws_request_id = aws_request_id
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_epoch_ms - time.time() * 1000))

    def __repr__(self) -> str:
        return (f"LambdaContext(function_name={self.function_name!r}, "
                f"aws_request_id={self.aws_request_id!r})")


def lambda_environment(
    config: FunctionConfig, log_stream: str, base: Mapping[str, str] | None = None,
    task_root: str | None = None,
) -> dict[str, str]:
    """The worker's environment: base, then Lambda's reserved variables, then the function's."""
    env = dict(os.environ if base is None else base)
    root = task_root or os.getcwd()
    paths = [root, str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env.update({
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)),
        "PYTHONUNBUFFERED": "1",
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "LAMBDA_TASK_ROOT": root,
        "_HANDLER": config.handler,
    })
    env.update({str(k): str(v) for k, v in config.env.items()})
    metrics_dir = env.get(HANDLER_METRICS_ENV)
    if metrics_dir:  # the handlers' Prometheus counters reach the runtime's /metrics
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    return env


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InvocationOutcome:
    request_id: str
    ok: bool  # the handler returned (its response may still report batch item failures)
    response: Any = None
    error_type: str | None = None
    error_message: str | None = None
    duration_s: float = 0.0  # handler time, as Lambda's Duration (init not included)
    abandoned: bool = False  # the runtime stopped under it: do not checkpoint


class EnvironmentDied(Exception):
    pass


class EnvironmentTimedOut(Exception):
    pass


# --------------------------------------------------------------------------------------------
# One execution environment
# --------------------------------------------------------------------------------------------
class ExecutionEnvironment:
    """A worker process serving one invocation at a time over a JSON-lines pipe."""

    def __init__(self, config: FunctionConfig, task_root: str | None = None,
                 log_dir: str | Path | None = None) -> None:
        self.config = config
        self.key = config.environment_key
        self.log_stream = time.strftime("%Y/%m/%d") + f"/[$LATEST]{uuid.uuid4().hex}"
        env = lambda_environment(config, self.log_stream, task_root=task_root)
        log_file = None
        if log_dir is not None:  # the function's log group, shared by its environments
            path = log_group_path(log_dir, config.log_group)
            path.parent.mkdir(parents=True, exist_ok=True)
            log_file = open(path, "ab")  # noqa: SIM115 - the child holds it; closed below
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "local_stack.stream_runtime.worker"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                env=env, cwd=task_root or os.getcwd(), start_new_session=True,
            )
        finally:
            if log_file is not None:
                log_file.close()  # the worker has its own descriptor (O_APPEND)
        self._buf = b""
        self.ready = False
        self.init_error: dict[str, Any] | None = None
        self.last_used = time.monotonic()
        self.invocations = 0
        log.info("function=%s: new execution environment pid %d", config.name, self.proc.pid)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def ensure_ready(self, timeout_s: float) -> None:
        """Wait for the worker's init (handler import) to finish; its errors come back as the
        invocation's error, as Lambda reports Runtime.ImportModuleError."""
        if self.ready:
            return
        hello = json.loads(self._read_line(time.monotonic() + timeout_s))
        self.ready = True
        self.init_error = hello.get("init_error")

    def invoke(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise EnvironmentDied(f"environment exited (code {self.proc.poll()})") from exc
        line = self._read_line(time.monotonic() + timeout_s)
        self.invocations += 1
        self.last_used = time.monotonic()
        return json.loads(line)

    def _read_line(self, deadline: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EnvironmentTimedOut()
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EnvironmentDied(f"environment exited (code {self.proc.wait()})")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self._reap()

    def close(self, wait_s: float = 2.0) -> None:
        """Ask the worker to exit (stdin EOF); kill it if it does not."""
        try:
            if self.proc.stdin and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reap()

    def _reap(self) -> None:
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.error("execution environment pid %d did not exit", self.proc.pid)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass


# --------------------------------------------------------------------------------------------
# Invoker: environments per function + reserved concurrency
# --------------------------------------------------------------------------------------------
class FunctionInvoker:
    """Runs invocations in per-function execution environments, under reserved concurrency."""

    def __init__(self, task_root: str | None = None, idle_ttl_s: float = 300.0,
                 log_dir: str | Path | None = None) -> None:
        self.task_root = task_root
        self.idle_ttl_s = idle_ttl_s
        self.log_dir = log_dir
        self._lock = threading.Condition()
        self._idle: dict[str, list[ExecutionEnvironment]] = {}
        self._busy: set[ExecutionEnvironment] = set()
        self._in_use: dict[str, int] = {}
        self._closing = False

    # -- concurrency ---------------------------------------------------------------------------
    def try_acquire(self, config: FunctionConfig) -> bool:
        """Take one unit of the function's concurrency; False = throttled."""
        with self._lock:
            if self._closing:
                return False
            used = self._in_use.get(config.name, 0)
            limit = config.reserved_concurrency
            if limit is not None and used >= limit:
                return False
            self._in_use[config.name] = used + 1
            return True

    def release(self, config: FunctionConfig) -> None:
        with self._lock:
            self._in_use[config.name] = max(0, self._in_use.get(config.name, 0) - 1)
            self._lock.notify_all()

    def in_use(self, name: str) -> int:
        with self._lock:
            return self._in_use.get(name, 0)

    # -- environments ----------------------------------------------------------------------------
    def _checkout(self, config: FunctionConfig) -> ExecutionEnvironment:
        stale: list[ExecutionEnvironment] = []
        env: ExecutionEnvironment | None = None
        with self._lock:
            pool = self._idle.setdefault(config.name, [])
            while pool:
                candidate = pool.pop()
                if candidate.key == config.environment_key and candidate.alive:
                    env = candidate
                    break
                stale.append(candidate)
        for old in stale:
            old.close(wait_s=1.0)
        if env is None:
            env = ExecutionEnvironment(config, self.task_root, self.log_dir)
        with self._lock:
            self._busy.add(env)
        return env

    def _checkin(self, env: ExecutionEnvironment, reusable: bool) -> None:
        with self._lock:
            self._busy.discard(env)
            keep = reusable and env.alive and not self._closing
            if keep:
                self._idle.setdefault(env.config.name, []).append(env)
            self._lock.notify_all()
        if not keep:
            env.kill()

    def reap_idle(self) -> None:
        """Close environments idle for longer than idle_ttl_s."""
        now = time.monotonic()
        old: list[ExecutionEnvironment] = []
        with self._lock:
            for name, pool in self._idle.items():
                keep = [e for e in pool if now - e.last_used < self.idle_ttl_s]
                old += [e for e in pool if e not in keep]
                self._idle[name] = keep
        for env in old:
            env.close(wait_s=1.0)

    def invoke(self, config: FunctionConfig, event: Mapping[str, Any]) -> InvocationOutcome:
        """One synchronous invocation (the caller holds a concurrency unit)."""
        request_id = str(uuid.uuid4())
        try:
            env = self._checkout(config)
        except OSError as exc:
            return InvocationOutcome(request_id, False, error_type="Runtime.StartError",
                                     error_message=str(exc))
        started = time.monotonic()
        try:
            env.ensure_ready(INIT_TIMEOUT_S)  # the cold start does not eat into the timeout
            started = time.monotonic()
            request = {
                "id": request_id, "event": event,
                "deadline_ms": int(time.time() * 1000 + config.timeout_s * 1000),
                "function_name": config.name, "function_arn": config.arn,
                "memory_mb": config.memory_mb, "log_group": config.log_group,
                "log_stream": env.log_stream,
            }
            reply = env.invoke(request, timeout_s=config.timeout_s + 0.25)
        except EnvironmentTimedOut:
            self._checkin(env, reusable=False)
            return self._failed(request_id, "Sandbox.Timedout",
                                f"Task timed out after {config.timeout_s:.2f} seconds",
                                time.monotonic() - started)
        except EnvironmentDied as exc:
            self._checkin(env, reusable=False)
            return self._failed(request_id, "Runtime.ExitError", str(exc),
                                time.monotonic() - started)
        duration = float(reply.get("duration_ms", 0.0)) / 1000.0
        if reply.get("ok"):
            self._checkin(env, reusable=True)
            return InvocationOutcome(request_id, True, response=reply.get("result"),
                                     duration_s=duration)
        reusable = reply.get("errorType") not in ("Sandbox.Timedout", "Runtime.ImportModuleError")
        self._checkin(env, reusable=reusable)
        return self._failed(request_id, reply.get("errorType") or "Error",
                            reply.get("errorMessage") or "", duration)

    def _failed(self, request_id: str, error_type: str, message: str,
                duration_s: float) -> InvocationOutcome:
        with self._lock:
            abandoned = self._closing
        return InvocationOutcome(request_id, False, error_type=error_type,
                                 error_message=message, duration_s=duration_s,
                                 abandoned=abandoned)

    @property
    def closing(self) -> bool:
        return self._closing

    def shutdown(self, grace_s: float = 5.0) -> None:
        """Stop taking invocations; let running ones finish for grace_s, then kill them (their
        batches are abandoned without a checkpoint, so they are delivered again)."""
        deadline = time.monotonic() + grace_s
        with self._lock:
            self._closing = True
            while self._busy and time.monotonic() < deadline:
                self._lock.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            busy = list(self._busy)
            idle = [e for pool in self._idle.values() for e in pool]
            self._idle.clear()
        for env in busy:
            log.warning("function=%s: abandoning in-flight invocation (pid %d) at shutdown",
                        env.config.name, env.proc.pid)
            env.kill()
        for env in idle:
            env.close(wait_s=1.0)

    def environments(self) -> int:
        with self._lock:
            return len(self._busy) + sum(len(p) for p in self._idle.values())
