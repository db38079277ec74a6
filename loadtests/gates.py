"""SLO gates: limits a run must meet, checked on Locust's own statistics when the run ends.

Arguments (all optional, any combination):

    --gate-failure-ratio 0.01                      failed requests / all requests  <= 0.01
    --gate-p95 "/v1/products/{sku}=300"            95th percentile of that route   <= 300 ms
    --gate-p99 "GET /v1/products/{sku}=500"        ... optionally for one method only
    --gate-p99 "Aggregated=800"                    ... or over all requests ("*" works too)
    --gate-min-rps 20                              requests per second over the run >= 20

`--gate-p95/--gate-p99` repeat. A route without a method prefix pools every method Locust saw
under that name. A route that was never requested fails its gate (a gate cannot pass on no
data). A missed gate sets `environment.process_exit_code = 1` and is logged with the observed
value, the limit and the difference. When every gate passes and a failure-ratio gate was given,
the exit code is 0 even if some requests failed (the gate is the judge of how many may fail);
without a failure-ratio gate Locust's own rule applies (exit 1 when any request failed).
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Locust is imported only where stats are evaluated (see locust_free)
    from locust.stats import RequestStats, StatsEntry

log = logging.getLogger("loadtests.gates")

AGGREGATED = {"aggregated", "*", "total"}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


class GateParseError(ValueError):
    """A gate argument that cannot be understood; the message names the argument."""


@dataclass(frozen=True)
class Gate:
    kind: str  # "failure_ratio" | "p95" | "p99" | "min_rps"
    limit: float
    route: str | None = None
    method: str | None = None

    @property
    def label(self) -> str:
        if self.kind in ("p95", "p99"):
            target = f"{self.method} {self.route}" if self.method else str(self.route)
            return f"{self.kind} {target}"
        return self.kind


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    observed: float | None
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate.label, "kind": self.gate.kind, "route": self.gate.route,
                "method": self.gate.method, "limit": self.gate.limit,
                "observed": self.observed, "passed": self.passed, "message": self.message}


def _number(text: str, option: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise GateParseError(f"{option} {text!r}: {what} must be a number") from None
    if not math.isfinite(value) or value < 0:
        raise GateParseError(f"{option} {text!r}: {what} must be a finite number >= 0")
    return value


def parse_ratio(text: str, option: str = "--gate-failure-ratio") -> float:
    value = _number(text, option, "the ratio")
    if value > 1:
        raise GateParseError(f"{option} {text!r}: a ratio is between 0 and 1 (0.01 = 1%)")
    return value


def parse_rps(text: str, option: str = "--gate-min-rps") -> float:
    return _number(text, option, "requests per second")


def parse_route_limit(text: str, option: str = "--gate-p99") -> tuple[str | None, str, float]:
    """`[METHOD ]ROUTE=MS` -> (method or None, route, ms)."""
    example = f'{option} "/v1/products/{{sku}}=500"'
    route_part, sep, ms_part = text.rpartition("=")
    route_part = route_part.strip()
    if not sep or not route_part or not ms_part.strip():
        raise GateParseError(f"{option} {text!r}: expected ROUTE=MILLISECONDS, e.g. {example}")
    ms = _number(ms_part.strip().removesuffix("ms"), option, "the limit in milliseconds")
    method: str | None = None
    first, _, rest = route_part.partition(" ")
    if rest and first.upper() in METHODS:
        method, route_part = first.upper(), rest.strip()
    if route_part.lower() in AGGREGATED:
        return None, "Aggregated", ms
    if not route_part.startswith("/"):
        raise GateParseError(f"{option} {text!r}: the route {route_part!r} must be a route "
                             f"template starting with / (or Aggregated), e.g. {example}")
    return method, route_part, ms


def _argparse_type(parse: Any, option: str) -> Any:
    def convert(text: str) -> Any:
        try:
            return parse(text, option)
        except GateParseError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = option.lstrip("-").replace("-", "_")
    return convert


def add_gate_arguments(parser: Any) -> None:
    group = parser.add_argument_group("gameday: SLO gates (checked when the run ends)")
    group.add_argument("--gate-failure-ratio", type=_argparse_type(parse_ratio,
                       "--gate-failure-ratio"), default=None, metavar="RATIO",
                       help="fail the run when failed/all requests exceeds RATIO (0.01 = 1%%)")
    group.add_argument("--gate-p95", type=_argparse_type(parse_route_limit, "--gate-p95"),
                       action="append", default=None, metavar="ROUTE=MS",
                       help='95th percentile limit per route, e.g. "/v1/products/{sku}=300"; '
                            "repeatable")
    group.add_argument("--gate-p99", type=_argparse_type(parse_route_limit, "--gate-p99"),
                       action="append", default=None, metavar="ROUTE=MS",
                       help='99th percentile limit per route, e.g. "/v1/products/{sku}=500"; '
                            "repeatable")
    group.add_argument("--gate-min-rps", type=_argparse_type(parse_rps, "--gate-min-rps"),
                       default=None, metavar="RPS",
                       help="fail the run when requests per second over the run is below RPS")


def _parsed(value: Any, parse: Any, option: str) -> Any:
    # argparse already converted command-line values; strings come from config files/web UI.
    return parse(value, option) if isinstance(value, str) else value


def gates_from_options(options: Any) -> list[Gate]:
    """The gates asked for in parsed options (GateParseError names a bad argument)."""
    gates: list[Gate] = []
    ratio = getattr(options, "gate_failure_ratio", None)
    if ratio is not None:
        gates.append(Gate("failure_ratio", _parsed(ratio, parse_ratio, "--gate-failure-ratio")))
    for kind in ("p95", "p99"):
        for value in getattr(options, f"gate_{kind}", None) or []:
            method, route, ms = _parsed(value, parse_route_limit, f"--gate-{kind}")
            gates.append(Gate(kind, ms, route, method))
    rps = getattr(options, "gate_min_rps", None)
    if rps is not None:
        gates.append(Gate("min_rps", _parsed(rps, parse_rps, "--gate-min-rps")))
    return gates


def _entry(stats: RequestStats, gate: Gate) -> StatsEntry | None:
    if gate.route == "Aggregated":
        return stats.total if stats.total.num_requests else None
    matches = [entry for (name, method), entry in stats.entries.items()
               if name == gate.route and (gate.method is None or method == gate.method)]
    matches = [entry for entry in matches if entry.num_requests]
    if not matches:
        return None
    if len(matches) == 1:
        return matches[0]
    from locust.stats import StatsEntry

    pooled = StatsEntry(stats, str(gate.route), "", use_response_times_cache=False)
    for entry in matches:
        pooled.extend(entry)
    return pooled


def evaluate_gate(gate: Gate, stats: RequestStats) -> GateResult:
    """Check one gate on the statistics of a run."""
    total = stats.total
    if gate.kind == "failure_ratio":
        observed = total.fail_ratio
        passed = observed <= gate.limit
        how = "within" if passed else f"over by {observed - gate.limit:.4f}"
        message = (f"failure ratio {observed:.4f} ({total.num_failures}/{total.num_requests}), "
                   f"limit {gate.limit:.4f}: {how}")
        return GateResult(gate, observed, passed, message)
    if gate.kind == "min_rps":
        observed = total.total_rps if total.num_requests else 0.0
        passed = observed >= gate.limit
        how = "met" if passed else f"short by {gate.limit - observed:.2f} req/s"
        message = f"throughput {observed:.2f} req/s, minimum {gate.limit:.2f} req/s: {how}"
        return GateResult(gate, observed, passed, message)
    entry = _entry(stats, gate)
    if entry is None:
        return GateResult(gate, None, False,
                          f"{gate.label}: no requests were made to this route, so the gate "
                          f"cannot pass (limit {gate.limit:g} ms)")
    percentile = 0.95 if gate.kind == "p95" else 0.99
    observed = float(entry.get_response_time_percentile(percentile))
    passed = observed <= gate.limit
    how = "within" if passed else f"over by {observed - gate.limit:g} ms"
    message = f"{gate.label} = {observed:g} ms, limit {gate.limit:g} ms: {how}"
    return GateResult(gate, observed, passed, message)


def evaluate(gates: list[Gate], stats: RequestStats) -> list[GateResult]:
    return [evaluate_gate(gate, stats) for gate in gates]


def apply_verdict(environment: Any, results: list[GateResult]) -> bool:
    """Log each gate and set the process exit code; True when every gate passed."""
    if not results:
        return True
    passed = all(result.passed for result in results)
    for result in results:
        if result.passed:
            log.info("SLO gate met: %s", result.message)
        else:
            log.error("SLO gate MISSED: %s", result.message)
    if not passed:
        environment.process_exit_code = 1
    elif any(result.gate.kind == "failure_ratio" for result in results):
        environment.process_exit_code = 0
    return passed
