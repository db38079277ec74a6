"""A background sampler that records what the report plots and the verdicts time: breaker
states, alarm states (with the exact time of each change, from StateUpdatedTimestamp, since
moto serves no alarm history), IteratorAge per function and live replicas per service."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from chaos.context import ChaosContext
from chaos.probes import alarms, breakers, processes, stream

log = logging.getLogger("chaos.probes.timeline")

MAX_SAMPLES_PER_SERIES = 20_000


class Timeline:
    """series name → [(epoch, value)]; alarm name → [(epoch, state)] transitions."""

    def __init__(self) -> None:
        self.series: dict[str, list[tuple[float, Any]]] = {}
        self.alarm_changes: dict[str, list[tuple[float, str]]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, t: float, value: Any) -> None:
        with self._lock:
            points = self.series.setdefault(name, [])
            if len(points) < MAX_SAMPLES_PER_SERIES:
                points.append((t, value))

    def alarm_seen(self, name: str, state: str, changed_at: float) -> None:
        with self._lock:
            changes = self.alarm_changes.setdefault(name, [])
            if not changes or changes[-1] != (changed_at, state):
                changes.append((changed_at, state))

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"series": {k: list(v) for k, v in self.series.items()},
                    "alarm_changes": {k: list(v) for k, v in self.alarm_changes.items()}}


class Sampler:
    """Samples every `interval_s` in a daemon thread until stopped."""

    def __init__(self, ctx: ChaosContext, timeline: Timeline, interval_s: float = 0.5,
                 breaker_deps: list[str] | None = None, alarm_names: list[str] | None = None,
                 functions: list[str] | None = None, services: list[str] | None = None) -> None:
        self.ctx = ctx
        self.timeline = timeline
        self.interval_s = interval_s
        self.breaker_deps = list(breaker_deps or [])
        self.alarm_names = list(alarm_names or [])
        self.functions = list(functions or [])
        self.services = list(services or [])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures: dict[str, str] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chaos-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def sample_once(self) -> None:
        t = time.time()
        self._guard("breakers", lambda: self._breakers(t))
        self._guard("alarms", lambda: self._alarms(t))
        for function in self.functions:
            self._guard(f"iterator_age:{function}", lambda f=function: self.timeline.add(
                f"iterator_age:{f}", t, self._read("iterator-age", "function", f,
                                                   stream.iterator_age)))
        for service in self.services:
            self._guard(f"replicas:{service}", lambda s=service: self.timeline.add(
                f"replicas:{s}", t, self._read("replicas-alive", "service", s,
                                               processes.replicas_alive)))

    def _read(self, probe: str, key: str, value: str, local: Any) -> Any:
        """The target's override of `probe` (chaos/targets/), else the local reading."""
        from chaos.probes.env import ProbeEnv
        from chaos.targets import target_of

        override = target_of(self.ctx).probe_overrides().get(probe)
        if override is None:
            return local(self.ctx, value)
        return override(ProbeEnv(ctx=self.ctx), {key: value})

    def _breakers(self, t: float) -> None:
        if not self.breaker_deps:
            return
        if self.ctx.target == "aws":
            for dep in self.breaker_deps:
                self.timeline.add(f"breaker:{dep}", t, self._read(
                    "breaker", "dependency", dep, breakers.breaker_state))
            return
        try:
            states = breakers.from_admin(self.ctx)
        except Exception:  # noqa: BLE001 - fall back to the replicas' gauges
            states = {}
        for dep, state in breakers.resolve(self.ctx, self.breaker_deps, states):
            self.timeline.add(f"breaker:{dep}", t, state)

    def _alarms(self, t: float) -> None:
        if not self.alarm_names:
            return
        for name, snap in alarms.alarm_snapshot(self.ctx, self.alarm_names).items():
            if snap is None:
                self.timeline.add(f"alarm:{name}", t, None)
                continue
            state, changed_at = snap
            self.timeline.add(f"alarm:{name}", t, state)
            self.timeline.alarm_seen(name, state, changed_at)

    def _guard(self, what: str, fn: Any) -> None:
        try:
            fn()
            self._failures.pop(what, None)
        except Exception as exc:  # noqa: BLE001 - a sampler must keep sampling
            message = f"{type(exc).__name__}: {exc}"
            if self._failures.get(what) != message:
                log.warning("sampling %s failed: %s", what, message)
                self._failures[what] = message

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.sample_once()
            self._stop.wait(max(0.05, self.interval_s - (time.monotonic() - started)))
