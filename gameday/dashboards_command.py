"""`gameday dashboards`: the Grafana dashboards of dashboards/grafana/.

    gameday dashboards list
    gameday dashboards push [--grafana-url URL] [--token TOKEN] [--folder TITLE]
                            [--folder-uid UID] [--no-overwrite] [--allow-remote]
    gameday dashboards annotate FAULT --text TEXT [--duration 30s] [--grafana-url URL]

`push` uploads every dashboard (grafana-client, `POST /api/dashboards/db`) into the folder
(created if missing; by default the folder the compose stack provisions). The URL and token
default to $GRAFANA_URL (else http://127.0.0.1:3000) and $GRAFANA_TOKEN (a service account
token with the Editor role; user:password in the URL works too). A Grafana outside loopback
needs --allow-remote. `annotate` marks a fault done by hand (tags `chaos` and FAULT) from now
for --duration, as the chaos runner does for its faults.

Exit status (local_stack.exit_codes): 0 done; 1 Grafana refused (the message says why);
2 bad usage; 3 Grafana could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from local_stack.exit_codes import ExitCode

EXIT_OK, EXIT_USAGE = ExitCode.OK, ExitCode.USAGE


def grafana_failed(exc: Any) -> ExitCode:
    """A GrafanaError's exit code: nothing answered (3) or Grafana said no (1)."""
    return ExitCode.UNAVAILABLE if exc.unreachable else ExitCode.FAILED


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `gameday dashboards` to the gameday command line."""
    p = subparsers.add_parser(
        "dashboards", help="list the Grafana dashboards, push them, annotate a fault",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="the dashboards in dashboards/grafana")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    push = sub.add_parser("push", help="upload the dashboards to a Grafana")
    _add_grafana(push)
    push.add_argument("--folder", default=None,
                      help="folder title (default: Shop game day)")
    push.add_argument("--folder-uid", default=None,
                      help="folder UID (default: shop-gameday, the compose stack's folder)")
    push.add_argument("--overwrite", dest="overwrite", action="store_true", default=True,
                      help="replace dashboards changed in Grafana (default)")
    push.add_argument("--no-overwrite", dest="overwrite", action="store_false",
                      help="fail (412) rather than replace a dashboard changed in Grafana")
    push.add_argument("--dir", type=Path, default=None,
                      help="folder of dashboard JSON files (default: dashboards/grafana)")
    push.set_defaults(func=cmd_push)

    annotate = sub.add_parser("annotate", help="annotate a fault (tags chaos and FAULT)")
    _add_grafana(annotate)
    annotate.add_argument("fault", help="the fault's name, e.g. kill-replica")
    annotate.add_argument("--text", required=True, help="what happened")
    annotate.add_argument("--duration", type=_seconds, default=0.0,
                          help="planned duration in seconds (default 0: a point in time)")
    annotate.add_argument("--tag", action="append", default=[], help="more tags")
    annotate.set_defaults(func=cmd_annotate)


def _seconds(text: str) -> float:
    from chaos.durations import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _add_grafana(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grafana-url", default=None,
                        help="Grafana's URL (default: $GRAFANA_URL or http://127.0.0.1:3000)")
    parser.add_argument("--token", default=None,
                        help="API token, sent as Bearer (default: $GRAFANA_TOKEN)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a Grafana outside loopback (127.0.0.0/8, ::1)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds per HTTP call (default 10)")


def _grafana(args: argparse.Namespace) -> tuple[str, str | None]:
    from dashboards.grafana_http import DEFAULT_URL

    url = args.grafana_url or os.environ.get("GRAFANA_URL") or DEFAULT_URL
    token = args.token or os.environ.get("GRAFANA_TOKEN") or None
    return url, token


def cmd_list(args: argparse.Namespace) -> int:
    from dashboards.grafana_push import dashboard_files, load_dashboard

    rows = []
    for path in dashboard_files():
        board = load_dashboard(path)
        panels = [p for p in board.get("panels", []) if p.get("type") != "row"]
        rows.append({"uid": board["uid"], "title": board["title"], "panels": len(panels),
                     "queries": sum(len(p.get("targets", [])) for p in panels),
                     "file": str(path)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        print(f"{row['uid']:<24} {row['panels']:>3} panels {row['queries']:>3} queries  "
              f"{row['title']}")
    return EXIT_OK


def cmd_push(args: argparse.Namespace) -> int:
    from dashboards.grafana_http import GrafanaError
    from dashboards.grafana_push import (
        DEFAULT_FOLDER,
        DEFAULT_FOLDER_UID,
        dashboard_files,
        push_dashboards,
    )

    url, token = _grafana(args)
    files = dashboard_files(args.dir) if args.dir else None
    try:
        results = push_dashboards(
            url, token, folder=args.folder or DEFAULT_FOLDER,
            folder_uid=args.folder_uid or DEFAULT_FOLDER_UID, overwrite=args.overwrite,
            files=files, timeout_s=args.timeout, allow_remote=args.allow_remote)
    except ValueError as exc:
        print(f"gameday dashboards push: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GrafanaError as exc:
        print(f"gameday dashboards push: {exc}", file=sys.stderr)
        return grafana_failed(exc)
    base = url.rstrip("/")
    for result in results:
        link = f"{base}{result.url}" if result.url.startswith("/") else result.url
        print(f"{result.status or 'pushed':<8} {result.uid:<24} v{result.version}  {link}")
    print(f"gameday dashboards push: {len(results)} dashboards in {base}")
    return EXIT_OK


def cmd_annotate(args: argparse.Namespace) -> int:
    from dashboards.grafana_annotations import GrafanaAnnotations
    from dashboards.grafana_http import GrafanaError

    url, token = _grafana(args)
    try:
        annotations = GrafanaAnnotations(url, token, args.timeout, args.allow_remote)
        annotation_id = annotations.fault_started(args.fault, args.text, start=time.time(),
                                                  planned_s=args.duration, tags=args.tag)
    except ValueError as exc:
        print(f"gameday dashboards annotate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GrafanaError as exc:
        print(f"gameday dashboards annotate: {exc}", file=sys.stderr)
        return grafana_failed(exc)
    print(f"annotation {annotation_id}: {args.fault} ({args.text})")
    return EXIT_OK
