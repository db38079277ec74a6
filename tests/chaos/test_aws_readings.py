"""The default experiments on the aws target (no AWS needed): every probe they name has an aws
reading, and their detection bounds there fit AWS' 1-minute Lambda metrics (chaos.spec.targets,
`per-target`), while the local values are the file's own, unchanged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.durations import parse_duration
from chaos.probes.aws import PROBE_CALLS
from chaos.spec.loader import Experiment, InvalidExperiment, load_file, load_text
from chaos.spec.targets import PER_TARGET, for_target
from dashboards.cloudwatch_alarms import alarm_definitions

EXPERIMENTS = sorted((Path(__file__).parents[2] / "chaos" / "experiments").glob("*.yaml"))
ON_AWS = {a.name: a for a in alarm_definitions(on_aws=True)}
ONE_MINUTE_PROBES = ("iterator-age", "stream", "stream-delta")  # AWS/Lambda metrics on aws


def _probe_steps(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    hypothesis = data["steady-state-hypothesis"]
    control = data.get("control") or {}
    for group in (hypothesis["probes"], hypothesis.get("after"), data["method"],
                  data.get("rollbacks"), (data.get("stop-conditions") or {}).get("guards"),
                  control.get("before-method")):
        yield from (s for s in group or [] if s.get("type", "probe") == "probe")


def _latest_aws_bound_s(alarm: str) -> float:
    """When an alarm on AWS fires at the latest after its condition starts: the period in
    which it starts, each further datapoint it needs, and about one period for CloudWatch to
    publish and evaluate (a 60 s, 1-of-1 alarm: ~2 min)."""
    found = ON_AWS[alarm]
    return float(found.period * (found.datapoints_to_alarm + 1))


@pytest.fixture(params=EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def experiment(request: pytest.FixtureRequest) -> Experiment:
    return load_file(request.param)


def test_every_probe_of_every_default_experiment_has_an_aws_reading(
        experiment: Experiment) -> None:
    missing = sorted({s["probe"] for s in _probe_steps(experiment.data)} - set(PROBE_CALLS))
    assert not missing, f"{experiment.path.name}: no aws reading for {missing}"


def test_a_probe_listed_as_read_on_aws_has_an_aws_reading() -> None:
    """PROBE_CALLS (what --dry and the operator policy go by) names exactly the probes that
    are overridden on aws or read alike everywhere: none that still reads the local stack."""
    from chaos.probes.aws import PROBE_OVERRIDES, READ_ALIKE
    from chaos.probes.catalog import PROBES

    assert set(PROBE_CALLS) == set(PROBE_OVERRIDES) | READ_ALIKE
    assert not set(PROBE_OVERRIDES) & READ_ALIKE
    assert set(PROBE_CALLS) <= set(PROBES.names())
    assert set(PROBES.names()) - set(PROBE_CALLS) == {"metric"}  # a replica's /metrics


def test_detection_bounds_on_aws_fit_one_minute_metrics(experiment: Experiment) -> None:
    """Each step waiting for an alarm whose AWS period is 60 s (or reading AWS/Lambda metrics)
    waits long enough there, and each time_to_alarm_s verdict on such alarms allows it."""
    aws = experiment.for_target("aws").data
    for step in _probe_steps(aws):
        params = step.get("params") or {}
        if "within" not in step:
            continue
        within = parse_duration(step["within"])
        if step["probe"] == "alarm" and ON_AWS[params["alarm"]].period >= 60:
            assert within >= _latest_aws_bound_s(params["alarm"]), step["name"]
        if step["probe"] in ONE_MINUTE_PROBES:
            assert within >= 120, step["name"]
    for verdict in aws.get("verdicts") or []:
        if verdict["metric"] != "time_to_alarm_s":
            continue
        alarms = verdict["params"]["alarm"]
        bound = min(_latest_aws_bound_s(a) for a in ([alarms] if isinstance(alarms, str)
                                                     else alarms))
        if bound >= 120:
            assert verdict["max"] >= bound, verdict["title"]


def test_local_runs_the_files_own_bounds(experiment: Experiment) -> None:
    assert experiment.for_target("local") is experiment
    assert experiment.for_target("compose") is experiment
    # on aws only the bounds named under per-target change
    aws, data = experiment.for_target("aws").data, experiment.data
    assert PER_TARGET not in str(aws)
    assert for_target(data, "local") == _without_per_target(data)


def _without_per_target(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_per_target(v) for k, v in value.items() if k != PER_TARGET}
    if isinstance(value, list):
        return [_without_per_target(v) for v in value]
    return value


def test_the_default_detection_steps_differ_on_aws() -> None:
    """Negative control of the bound check: the files' local bounds would not do on aws."""
    data = load_file(EXPERIMENTS[0].with_name("inventory-lambda-errors.yaml")).data
    local = {s["name"]: s.get("within") for s in data["method"] if s["type"] == "probe"}
    aws = {s["name"]: s.get("within") for s in for_target(data, "aws")["method"]
           if s["type"] == "probe"}
    assert local["jam-detected"] == "15s" and aws["jam-detected"] == "150s"
    assert parse_duration(local["jam-detected"]) < _latest_aws_bound_s(
        "shop-inventory-stream-jam")


SPEC = """
version: 1
title: t
steady-state-hypothesis:
  title: h
  probes:
    - name: p
      probe: http
      tolerance: {equals: 200}
      within: 5s
      per-target: %s
method:
  - type: pause
    duration: 1s
"""


@pytest.mark.parametrize("value, error", [
    ("{azure: {within: 10s}}", "unknown key 'azure' (allowed: aws, compose, local)"),
    ("{aws: {max: 3}}", "unknown key 'max' (allowed: within)"),
    ("{aws: {within: soon}}", "'soon' is not a duration"),
])
def test_a_bad_per_target_bound_is_named(value: str, error: str) -> None:
    with pytest.raises(InvalidExperiment, match=re.escape(error)) as raised:
        load_text(SPEC % value, "x.yaml")
    assert "steady-state-hypothesis.probes[0].per-target" in str(raised.value)
    found = load_text(SPEC % "{aws: {within: 90s}}").for_target("aws")
    assert found.data["steady-state-hypothesis"]["probes"][0]["within"] == "90s"


def test_the_runner_runs_the_bounds_of_its_target(tmp_path: Path) -> None:
    """The runner (and its journal) take the bounds of the context's target."""
    from chaos.context import ChaosContext
    from chaos.runner.run import ExperimentRunner, RunOptions

    experiment = load_file(EXPERIMENTS[0].with_name("inventory-lambda-errors.yaml"))
    ctx = ChaosContext.load(tmp_path, require_stack=False)

    def bounds() -> tuple[Any, Any]:
        runner = ExperimentRunner(experiment, ctx, RunOptions(seed=1, out_dir=tmp_path / "o",
                                                              handle_signals=False))
        data = runner.experiment.data
        step = next(s for s in data["method"] if s.get("name") == "jam-detected")
        verdict = next(v for v in data["verdicts"] if v["metric"] == "time_to_alarm_s")
        return step["within"], verdict["max"]

    assert bounds() == ("15s", 15)
    ctx.target_aws = True
    assert bounds() == ("150s", 150)
