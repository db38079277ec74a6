"""Prometheus metrics of the alarm evaluator, served on an optional loopback port.

* ``cloudwatch_alarm_state{alarm,state}``: 1 for the alarm's current state, 0 for the other two
  (so ``cloudwatch_alarm_state{state="ALARM"} == 1`` selects alarms in ALARM);
* ``cloudwatch_alarm_transitions_total{alarm,from_state,to_state}``: state changes written;
* ``cloudwatch_alarm_evaluator_errors_total``: evaluation rounds that failed (endpoint down...);
* ``cloudwatch_alarm_evaluator_last_run_timestamp_seconds``: end of the last complete round.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from local_stack.alarm_evaluator.evaluation import State


class AlarmStateMetrics:
    """The evaluator's Prometheus metrics in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.state = Gauge("cloudwatch_alarm_state",
                           "CloudWatch alarm state as evaluated locally (1 = current state)",
                           ["alarm", "state"], registry=self.registry)
        self.transitions = Counter("cloudwatch_alarm_transitions_total",
                                   "CloudWatch alarm state changes written by the evaluator",
                                   ["alarm", "from_state", "to_state"], registry=self.registry)
        self.errors = Counter("cloudwatch_alarm_evaluator_errors_total",
                              "Evaluation rounds that failed", registry=self.registry)
        self.last_run = Gauge("cloudwatch_alarm_evaluator_last_run_timestamp_seconds",
                              "Unix time of the last complete evaluation round",
                              registry=self.registry)
        self._known: set[str] = set()

    def set_states(self, states: Mapping[str, str]) -> None:
        """Publish the current state of every alarm; forget alarms that no longer exist."""
        for gone in self._known - set(states):
            for state in State:
                self.state.remove(gone, state.value)
        for alarm, current in states.items():
            for state in State:
                self.state.labels(alarm, state.value).set(1.0 if state.value == current else 0.0)
        self._known = set(states)

    def transition(self, alarm: str, old: str, new: str) -> None:
        self.transitions.labels(alarm, old, new).inc()

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve /metrics on host:port (0 picks a free port); return the bound port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)
