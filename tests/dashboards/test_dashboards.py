"""The dashboard files: stable UIDs, the datasource variable, panels well formed, every query
valid PromQL (promtool), the files in sync with dashboards/grafana_build.py, provisioning
consistent with the dashboards."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import grafana_build
from dashboards.grafana_build import GRAFANA_DIR
from dashboards.grafana_push import dashboard_files
from tests.conftest import REPO
from tests.dashboards.helpers import (
    all_queries,
    load_dashboards,
    panels,
    queries,
    substitute,
    variable_values,
)

# The UIDs are part of the interface (links, bookmarks, pushes overwrite by UID): changing
# one is a breaking change, so they are pinned here.
STABLE_UIDS = {"shop-game-day", "shop-golden-signals", "shop-circuit-breakers", "shop-streams",
               "shop-saga", "shop-load"}
PROMTOOL = shutil.which("promtool")
BOARDS = load_dashboards()


def test_uids_are_stable_unique_and_name_their_file() -> None:
    assert set(BOARDS) == STABLE_UIDS
    files = dashboard_files()
    uids = [json.loads(path.read_text())["uid"] for path in files]
    assert len(uids) == len(set(uids))
    for path, uid in zip(files, uids, strict=True):
        assert path.name == f"{uid}.json"
        assert re.fullmatch(r"[a-z0-9-]{1,40}", uid)


def test_files_are_what_the_builder_writes() -> None:
    assert grafana_build.stale_files() == [], "run python -m dashboards.grafana_build"


@pytest.mark.parametrize("uid", sorted(STABLE_UIDS))
def test_dashboard_shape(uid: str) -> None:
    board = BOARDS[uid]
    assert board["id"] is None and board["title"] and board["schemaVersion"] >= 36
    assert "shop-gameday" in board["tags"]
    variables = board["templating"]["list"]
    datasource = variables[0]
    assert (datasource["name"], datasource["type"], datasource["query"]) == \
        ("datasource", "datasource", "prometheus")
    for variable in variables[1:]:
        assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    chaos = [a for a in board["annotations"]["list"] if a.get("target", {}).get("tags")]
    assert chaos and chaos[0]["target"]["tags"] == ["chaos"]
    assert chaos[0]["datasource"]["type"] == "grafana"

    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in panels(board):
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid)
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] >= 1
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"panel {panel['id']} overlaps another"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["datasource"]["uid"] == "${datasource}"
        assert panel["fieldConfig"]["defaults"]["unit"]
        assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        targets = panel["targets"]
        assert targets, f"panel {panel['title']!r} has no query"
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs))
        for target in targets:
            assert target["expr"].strip()
            assert target["datasource"]["uid"] == "${datasource}"


def test_every_variable_used_is_defined() -> None:
    for board in BOARDS.values():
        values = variable_values(board)
        for query in queries(board):
            substitute(query.expr, values)  # KeyError for an undefined variable


def test_panel_counts() -> None:
    counts = {uid: sum(1 for p in panels(b) if p["type"] != "row") for uid, b in BOARDS.items()}
    assert all(n >= 6 for n in counts.values()), counts


def _rules_file(tmp_path: Path, exprs: list[str]) -> Path:
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(exprs)]}]}
    path = tmp_path / "queries.rules.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False, width=1000))
    return path


def _promtool_check(path: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install "
                                              "prometheus)")
def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    exprs = []
    for board in BOARDS.values():
        values = variable_values(board)
        exprs += [substitute(q.expr, values, rate_interval="20s", range_="1h")
                  for q in queries(board)]
    assert len(exprs) == len(all_queries())
    done = _promtool_check(_rules_file(tmp_path, exprs))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_promtool_catches_a_bad_query(tmp_path: Path) -> None:
    done = _promtool_check(_rules_file(tmp_path, ["sum by (le (rate(x[5m]))"]))
    assert done.returncode != 0


# -- provisioning -------------------------------------------------------------------------------


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_provisioned_datasource_is_the_default_prometheus() -> None:
    data = _yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yaml")
    assert data["apiVersion"] == 1
    prometheus = [d for d in data["datasources"] if d["type"] == "prometheus"]
    assert len(prometheus) == 1 and prometheus[0]["isDefault"] is True
    assert prometheus[0]["url"] == "http://prometheus:9090"


def test_dashboard_provider_points_where_compose_mounts_the_files() -> None:
    data = _yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "shop-gameday.yaml")
    (provider,) = data["providers"]
    assert provider["type"] == "file" and provider["folderUid"] == "shop-gameday"
    compose = _yaml(REPO / "docker-compose.yml")
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./dashboards/grafana:{provider['options']['path']}:ro" in mounts
