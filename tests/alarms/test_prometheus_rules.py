"""promtool checks of dashboards/prometheus: the scrape config, the alert rules and the rule unit
tests (alerts_test.yml). Skipped, saying so, only when promtool is not installed (CI installs it
with `apt-get install prometheus`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

PROMETHEUS_DIR = REPO / "dashboards" / "prometheus"
JOBS = {"storefront", "payments", "reviews", "stream_runtime", "alarm_evaluator", "saga", "locust"}
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus); rules unchecked")


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done


def test_scrape_config_has_every_job_with_file_discovery() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == JOBS
    for name, job in jobs.items():
        files = [f for sd in job["file_sd_configs"] for f in sd["files"]]
        assert files == [f"targets/{name}*.json"]
    assert config["rule_files"] == ["alerts.yml"]


def test_every_alert_has_for_severity_and_annotations_and_is_unit_tested() -> None:
    rules = [rule for group in yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())[
        "groups"] for rule in group["rules"]]
    tested = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    cases: dict[str, list[bool]] = {}
    for test in tested["tests"]:
        for case in test.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], []).append(bool(case["exp_alerts"]))
    for rule in rules:
        name = rule["alert"]
        assert name[0].isupper() and "_" not in name, name
        assert "for" in rule and rule["labels"]["severity"] in ("critical", "warning"), name
        assert {"summary", "description"} <= set(rule["annotations"]), name
        assert True in cases.get(name, []), f"{name} is never shown firing"
        assert False in cases.get(name, []), f"{name} is never shown not firing"


@needs_promtool
def test_promtool_check_config_and_rules() -> None:
    promtool("check", "config", "prometheus.yml")
    promtool("check", "rules", "alerts.yml")


@needs_promtool
def test_promtool_check_config_with_targets_written(tmp_path: Path) -> None:
    """As the local stack runs it: target files present, then not even a warning."""
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(PROMETHEUS_DIR / name, tmp_path / name)
    (tmp_path / "targets").mkdir()
    for job in JOBS:
        (tmp_path / "targets" / f"{job}.json").write_text(json.dumps(
            [{"targets": ["127.0.0.1:9100"], "labels": {"env": "local"}}]))
    done = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert "WARNING" not in done.stdout + done.stderr


@needs_promtool
def test_promtool_rule_unit_tests() -> None:
    done = promtool("test", "rules", "alerts_test.yml")
    assert "SUCCESS" in done.stdout


def test_the_silent_consumer_and_the_stuck_correlation_id_have_prometheus_rules() -> None:
    """The two detections added beside the CloudWatch alarms exist for Prometheus too, reading
    the metrics the stack exports (handler heartbeats; the evaluator's insight gauges)."""
    rules = {rule["alert"]: rule for group in yaml.safe_load(
        (PROMETHEUS_DIR / "alerts.yml").read_text())["groups"] for rule in group["rules"]}
    assert "shop_stream_heartbeats_total" in rules["StreamConsumerSilent"]["expr"]
    assert "contributor_insights_contributor_value" in rules["StreamStuckCorrelationId"]["expr"]
