"""A fake Grafana HTTP API on 127.0.0.1 for the push and annotation tests: it answers the
endpoints the harness uses as Grafana documents them, and refuses (400, 401, 404, 412, 415)
any request whose method, path, auth header or body shape does not follow that API.

Endpoints: GET/POST /api/folders; POST /api/dashboards/db; POST /api/annotations;
PATCH /api/annotations/:id. Every request is recorded in `calls`.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.dashboards.helpers import RecordingServer

DASHBOARD_SAVE_KEYS = {"dashboard", "folderUid", "folderId", "overwrite", "message"}
ANNOTATION_CREATE_KEYS = {"dashboardUID", "dashboardId", "panelId", "time", "timeEnd", "tags",
                          "text", "data"}
ANNOTATION_PATCH_KEYS = {"time", "timeEnd", "tags", "text", "data"}


@dataclass
class Call:
    method: str
    path: str
    auth: str | None
    body: Any


@dataclass
class GrafanaState:
    token: str | None = "secret-token"
    basic: tuple[str, str] | None = None
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    annotations: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ApiError(Exception):
    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = code
        self.body = {"message": message, **extra}


def _int_ms(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 10**12:
        raise ApiError(400, f"{name} must be epoch milliseconds (an integer), got {value!r}")
    return value


def make_handler(state: GrafanaState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        # -- plumbing ---------------------------------------------------------------------
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            if not length:
                return None
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                raise ApiError(415, "Content-Type must be application/json")
            try:
                return json.loads(self.rfile.read(length))
            except json.JSONDecodeError as exc:
                raise ApiError(400, f"bad JSON: {exc}") from exc

        def _authorised(self) -> bool:
            auth = self.headers.get("Authorization")
            if state.token is not None and auth == f"Bearer {state.token}":
                return True
            if state.basic is not None and auth and auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                return (user, password) == state.basic
            return False

        def _dispatch(self) -> None:
            try:
                body = self._body()
            except ApiError as exc:
                self._reply(exc.status, exc.body)
                return
            with state.lock:
                state.calls.append(Call(self.command, self.path,
                                        self.headers.get("Authorization"), body))
                try:
                    if not self.path.startswith("/api/"):
                        raise ApiError(404, "Not found")
                    if not self._authorised():
                        raise ApiError(401, "Unauthorized")
                    status, answer = self._route(body)
                except ApiError as exc:
                    status, answer = exc.status, exc.body
            self._reply(status, answer)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch  # noqa: N815

        # -- the API ----------------------------------------------------------------------
        def _route(self, body: Any) -> tuple[int, Any]:
            method, path = self.command, self.path.split("?")[0]
            if path == "/api/folders" and method == "GET":
                return 200, [{"id": f["id"], "uid": uid, "title": f["title"]}
                             for uid, f in state.folders.items()]
            if path == "/api/folders" and method == "POST":
                return self._create_folder(body)
            if path == "/api/dashboards/db" and method == "POST":
                return self._save_dashboard(body)
            if path == "/api/annotations" and method == "POST":
                return self._create_annotation(body)
            match = re.fullmatch(r"/api/annotations/(\d+)", path)
            if match and method == "PATCH":
                return self._patch_annotation(int(match.group(1)), body)
            raise ApiError(404, f"no route {method} {path}")

        def _create_folder(self, body: Any) -> tuple[int, Any]:
            if not isinstance(body, dict) or not isinstance(body.get("title"), str) \
                    or not body["title"]:
                raise ApiError(400, "folder title cannot be empty")
            if set(body) - {"title", "uid", "parentUid"}:
                raise ApiError(400, f"unknown folder fields {sorted(set(body) - {'title'})}")
            uid = str(body.get("uid") or f"f{len(state.folders) + 1}")
            if uid in state.folders:
                raise ApiError(409, "a folder with the same uid already exists")
            if any(f["title"] == body["title"] for f in state.folders.values()):
                raise ApiError(409, "a folder with the same name already exists")
            folder = {"id": len(state.folders) + 1, "title": body["title"]}
            state.folders[uid] = folder
            return 200, {"id": folder["id"], "uid": uid, "title": folder["title"],
                         "url": f"/dashboards/f/{uid}/"}

        def _save_dashboard(self, body: Any) -> tuple[int, Any]:
            if not isinstance(body, dict) or not isinstance(body.get("dashboard"), dict):
                raise ApiError(400, "bad request data: dashboard is required")
            unknown = set(body) - DASHBOARD_SAVE_KEYS
            if unknown:
                raise ApiError(400, f"bad request data: unknown fields {sorted(unknown)}")
            if "overwrite" in body and not isinstance(body["overwrite"], bool):
                raise ApiError(400, "overwrite must be a boolean")
            board = body["dashboard"]
            if not board.get("title"):
                raise ApiError(400, "Dashboard title cannot be empty", status="empty-name")
            uid = board.get("uid")
            if not isinstance(uid, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", uid):
                raise ApiError(400, f"invalid dashboard uid {uid!r}")
            if board.get("id") is not None and uid not in state.dashboards:
                raise ApiError(404, "Dashboard not found", status="not-found")
            folder_uid = body.get("folderUid")
            if folder_uid is None and body.get("folderId") is None:
                folder_uid = ""  # the General folder
            if folder_uid and folder_uid not in state.folders:
                raise ApiError(400, "folder not found")
            existing = state.dashboards.get(uid)
            if existing is not None and not body.get("overwrite", False):
                if board.get("version") != existing["version"]:
                    raise ApiError(412, "The dashboard has been changed by someone else",
                                   status="version-mismatch")
            version = (existing["version"] + 1) if existing else 1
            state.dashboards[uid] = {"version": version, "dashboard": board,
                                     "folderUid": folder_uid, "message": body.get("message")}
            slug = re.sub(r"[^a-z0-9]+", "-", board["title"].lower()).strip("-")
            return 200, {"id": list(state.dashboards).index(uid) + 1, "uid": uid,
                         "url": f"/d/{uid}/{slug}", "status": "success", "version": version,
                         "slug": slug}

        def _create_annotation(self, body: Any) -> tuple[int, Any]:
            if not isinstance(body, dict):
                raise ApiError(400, "bad request data")
            unknown = set(body) - ANNOTATION_CREATE_KEYS
            if unknown:
                raise ApiError(400, f"bad request data: unknown fields {sorted(unknown)}")
            if not isinstance(body.get("text"), str) or not body["text"]:
                raise ApiError(400, "Failed to save annotation: text field should not be empty")
            start = _int_ms(body.get("time"), "time")
            end = _int_ms(body.get("timeEnd", start), "timeEnd")
            if end < start:
                raise ApiError(400, "timeEnd is before time")
            tags = body.get("tags", [])
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ApiError(400, "tags must be a list of strings")
            annotation_id = len(state.annotations) + 1
            state.annotations[annotation_id] = dict(body)
            return 200, {"message": "Annotation added", "id": annotation_id}

        def _patch_annotation(self, annotation_id: int, body: Any) -> tuple[int, Any]:
            if annotation_id not in state.annotations:
                raise ApiError(404, "Could not find annotation to update")
            if not isinstance(body, dict) or not body:
                raise ApiError(400, "bad request data")
            unknown = set(body) - ANNOTATION_PATCH_KEYS
            if unknown:
                raise ApiError(400, f"bad request data: unknown fields {sorted(unknown)}")
            stored = state.annotations[annotation_id]
            for key in ("time", "timeEnd"):
                if key in body:
                    stored[key] = _int_ms(body[key], key)
            if "tags" in body:
                stored["tags"] = body["tags"]
            if "text" in body:
                stored["text"] = body["text"]
            return 200, {"message": "Annotation patched"}

    return Handler


class FakeGrafana(RecordingServer):
    """`with FakeGrafana() as grafana:` → grafana.url, grafana.state."""

    def __init__(self, token: str | None = "secret-token",
                 basic: tuple[str, str] | None = None) -> None:
        self.state = GrafanaState(token=token, basic=basic)
        super().__init__(make_handler(self.state))
