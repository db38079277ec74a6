"""The "Game day" tab in Locust's web UI, the page behind it, and its data at /gameday/status.

Locust 2.x's React UI shows its tabs (extended ones included) only once a test has run, and
refreshes them only while one runs (its `/stats/requests` poll stops with the swarm); a game
day is watched most between swarms. So the view is our own page, `/gameday`, with its own
poller (`webui_assets/gameday.js`, every second, swarm or not), and the tab is a small script
(`webui_assets/tab.js`) added to Locust's index page that opens that page over the UI from a
"Game day" button in the header: there from the start form on, whatever state the runner is in.

Everything is served by a Flask blueprint registered on `environment.web_ui.app` (Locust's
documented way to add routes); the script is added by an `after_request` hook to the index
HTML only, and when Locust's page has no `</body>` the tab is left out (logged) while
`/gameday` still works.
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, send_from_directory

from loadtests.status import GamedayStatus

log = logging.getLogger("loadtests.webui")
ASSETS = Path(__file__).with_name("webui_assets")
STATUS_PATH = "/gameday/status"
PAGE_PATH = "/gameday"
TAB_SCRIPT = '<script src="/gameday/assets/tab.js" defer></script>'
POLL_MS = 1000


def page(state_dir: str, embedded: bool) -> str:
    """The /gameday page (the data arrives by polling)."""
    html = (ASSETS / "gameday.html").read_text()
    return (html.replace("{{BODY_CLASS}}", "embedded" if embedded else "")
            .replace("{{STATE_DIR}}", escape(state_dir))
            .replace("{{POLL_MS}}", str(POLL_MS)))


def add_tab(html: str) -> str | None:
    """Locust's index page with the tab script added; None when there is nowhere to add it."""
    if TAB_SCRIPT in html:
        return html
    at = html.rfind("</body>")
    if at < 0:
        return None
    return html[:at] + TAB_SCRIPT + "\n" + html[at:]


def install_web_ui(web_ui: Any, status: GamedayStatus) -> None:
    """Add /gameday, /gameday/status, the assets and the tab to a Locust WebUI."""
    blueprint = Blueprint("gameday", __name__)

    @blueprint.route(STATUS_PATH)
    def gameday_status() -> Response:
        response = jsonify(status.snapshot())
        response.headers["Cache-Control"] = "no-store"
        return response

    @blueprint.route(PAGE_PATH)
    def gameday_page() -> Response:
        return Response(page(str(status.state_dir), request.args.get("embedded") == "1"),
                        mimetype="text/html")

    @blueprint.route("/gameday/assets/<name>")
    def gameday_asset(name: str) -> Response:
        if name not in ("gameday.js", "gameday.css", "tab.js"):
            abort(404)
        return send_from_directory(ASSETS, name, max_age=0)

    web_ui.app.register_blueprint(blueprint)

    @web_ui.app.after_request
    def add_gameday_tab(response: Response) -> Response:
        if request.method != "GET" or response.status_code != 200 \
                or response.mimetype != "text/html" or not request.path.endswith("/") \
                or response.direct_passthrough:
            return response
        try:
            html = add_tab(response.get_data(as_text=True))
            if html is None:
                log.warning("Locust's index page has no </body>: no Game day tab there "
                            "(the view is still at %s)", PAGE_PATH)
            else:
                response.set_data(html)
        except Exception:  # noqa: BLE001 - never break Locust's own page
            log.exception("could not add the Game day tab to %s", request.path)
        return response
