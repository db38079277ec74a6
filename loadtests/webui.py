"""A "Game day" tab in Locust's web UI, and the same data as JSON at /gameday/status.

Uses Locust 2.x's web UI extension points: a Flask blueprint registered on
`environment.web_ui.app`, `template_args["extended_tabs"]`/`["extended_tables"]` so the
React UI shows a tab with a table, and an after_request hook that adds the table's rows as
`extended_stats` to the `/stats/requests` answer the UI polls every two seconds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from loadtests.status import GamedayStatus, table_rows

log = logging.getLogger("loadtests.webui")
TAB_KEY = "gameday"
STATUS_PATH = "/gameday/status"
TAB = {"title": "Game day", "key": TAB_KEY}
TABLE = {"key": TAB_KEY, "structure": [
    {"key": "kind", "title": "Kind"},
    {"key": "name", "title": "Name"},
    {"key": "state", "title": "State"},
    {"key": "detail", "title": "Detail"},
]}


def install_web_ui(web_ui: Any, status: GamedayStatus) -> None:
    """Add the status route, the tab and its live rows to a Locust WebUI."""
    blueprint = Blueprint("gameday", __name__)

    @blueprint.route(STATUS_PATH)
    def gameday_status() -> Response:
        return jsonify(status.snapshot())

    web_ui.app.register_blueprint(blueprint)

    args = web_ui.template_args
    args["extended_tabs"] = [*args.get("extended_tabs", []), TAB]
    args["extended_tables"] = [*args.get("extended_tables", []), TABLE]

    @web_ui.app.after_request
    def add_gameday_rows(response: Response) -> Response:
        if not request.path.endswith("/stats/requests") or not response.is_json:
            return response
        try:
            data = response.get_json()
            rows = table_rows(status.snapshot())
            data["extended_stats"] = [*data.get("extended_stats", []),
                                      {"key": TAB_KEY, "data": rows}]
            response.set_data(json.dumps(data))
        except Exception:  # noqa: BLE001 - never break the stats the UI depends on
            log.exception("could not add the game day rows to /stats/requests")
        return response
