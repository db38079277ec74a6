"""Upload the dashboards of dashboards/grafana/ to a Grafana through its HTTP API (what
`gameday dashboards push` runs): the folder is found by UID or created
(`GET /api/folders`, `POST /api/folders`), then every dashboard is saved with
`POST /api/dashboards/db` `{dashboard, folderUid, overwrite, message}`.

A dashboard keeps its UID (so links and bookmarks survive a push); its numeric `id` is cleared,
so the same files work on any Grafana. Without `overwrite`, Grafana refuses (412) to replace a
dashboard that changed there; the error says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.grafana_build import GRAFANA_DIR
from dashboards.grafana_http import (
    DEFAULT_TIMEOUT_S,
    GrafanaError,
    call,
    connect,
)

log = logging.getLogger("dashboards.grafana_push")

DEFAULT_FOLDER = "Shop game day"
DEFAULT_FOLDER_UID = "shop-gameday"  # the same folder as the provisioned one in compose
PUSH_MESSAGE = "gameday dashboards push"


@dataclass(frozen=True)
class PushResult:
    """What Grafana answered for one dashboard."""

    uid: str
    title: str
    status: str
    version: int | None
    url: str


def dashboard_files(directory: Path = GRAFANA_DIR) -> list[Path]:
    """The dashboard JSON files of `directory` (not its provisioning YAML), sorted."""
    return sorted(directory.glob("*.json"))


def load_dashboard(path: Path) -> dict[str, Any]:
    """One dashboard file; ValueError naming the file when it is not a dashboard."""
    try:
        board = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(board, dict) or not board.get("uid") or not board.get("title"):
        raise ValueError(f"{path}: not a Grafana dashboard (needs uid and title)")
    return board


def ensure_folder(api: Any, title: str, uid: str) -> str:
    """The UID of the folder `uid` (or, failing that, titled `title`), created if missing."""
    folders = call(api, "listing folders", api.folder.get_all_folders)
    if not isinstance(folders, list):
        raise GrafanaError(f"listing folders: unexpected answer {str(folders)[:200]}")
    for folder in folders:
        if folder.get("uid") == uid:
            return uid
    for folder in folders:
        if folder.get("title") == title:
            return str(folder["uid"])
    created = call(api, f"creating folder {title!r}",
                   lambda: api.folder.create_folder(title, uid=uid))
    log.info("created folder %r (uid %s)", title, created.get("uid", uid))
    return str(created.get("uid") or uid)


def save_payload(board: dict[str, Any], folder_uid: str, overwrite: bool) -> dict[str, Any]:
    """The body of POST /api/dashboards/db for `board`."""
    return {"dashboard": {**board, "id": None}, "folderUid": folder_uid,
            "overwrite": overwrite, "message": PUSH_MESSAGE}


def push_dashboards(
    url: str,
    token: str | None = None,
    *,
    folder: str = DEFAULT_FOLDER,
    folder_uid: str = DEFAULT_FOLDER_UID,
    overwrite: bool = True,
    files: Iterable[Path] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    allow_remote: bool = False,
) -> list[PushResult]:
    """Upload every dashboard file (default: dashboards/grafana/*.json) into the folder;
    ValueError for a bad URL or file, GrafanaError for what Grafana (or the network) says."""
    paths = list(files) if files is not None else dashboard_files()
    if not paths:
        raise ValueError("no dashboard files to push")
    boards = [load_dashboard(path) for path in paths]
    api = connect(url, token, timeout_s, allow_remote)
    target_folder = ensure_folder(api, folder, folder_uid)
    results = []
    for board in boards:
        answer = call(api, f"saving dashboard {board['uid']}",
                      lambda b=board: api.dashboard.update_dashboard(
                          save_payload(b, target_folder, overwrite)))
        if not isinstance(answer, dict):
            raise GrafanaError(f"saving dashboard {board['uid']}: unexpected answer "
                               f"{str(answer)[:200]}")
        result = PushResult(uid=str(answer.get("uid") or board["uid"]), title=board["title"],
                            status=str(answer.get("status", "")),
                            version=answer.get("version"), url=str(answer.get("url", "")))
        log.info("pushed %s (%s) version %s", result.uid, result.title, result.version)
        results.append(result)
    return results
