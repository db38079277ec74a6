"""One replica of a shop service: a WSGI app served by waitress on two sockets.

- the service's *entry* port, shared by all replicas of the service through SO_REUSEPORT: the
  kernel spreads new connections across the live replicas, and a dead replica's socket leaves
  the group at once. That is the load balancer of the local stack (compose uses a real one).
- the replica's *own* port, for per-replica health checks and Prometheus scraping.

Run as `python -m local_stack.replica --app reference_app.storefront.app:create_app
--entry-port 8700 --port 8711`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from local_stack.ports import LOOPBACK, check_loopback

log = logging.getLogger("local_stack.replica")

# waitress settings of every shop replica (local_stack.compose's `serve` uses them too)
WAITRESS_OPTIONS: dict[str, Any] = {"connection_limit": 1000, "channel_timeout": 30,
                                    "ident": None, "_quiet": True}


def quiet_waitress_queue() -> None:
    """waitress logs a WARNING ("Task queue depth is N") for every request that waits for one
    of its threads: under load that is most requests, and each line cost the replica a
    formatted, filtered write (2.5 MB of them per storefront replica in a 45 s browse run).
    Waiting is expected at load (the RED metrics show the latency it adds); real errors are
    still logged."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def load_app(spec: str) -> Callable[..., Any]:
    """Import `module:factory` and call the factory to get the WSGI app."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"--app must look like package.module:factory, got {spec!r}")
    module = importlib.import_module(module_name)
    factory = getattr(module, attr)
    return factory()


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def exit_on_signals(logger: logging.Logger, what: str) -> None:
    """SIGTERM and SIGINT log "stopping <what>" and exit 0 (SystemExit out of waitress)."""

    def _stop(signum: int, _frame: Any) -> None:
        logger.info("signal %s: stopping %s", signum, what)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True, help="module:factory of the WSGI app")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--entry-port", type=int, required=True)
    parser.add_argument("--port", type=int, required=True, help="this replica's own port")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    check_loopback(args.host)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    import waitress

    app = load_app(args.app)
    quiet_waitress_queue()  # after the app's own logging set-up
    entry = listening_socket(args.host, args.entry_port, reuse_port=True)
    own = listening_socket(args.host, args.port, reuse_port=False)

    exit_on_signals(log, f"replica on port {args.port}")
    log.info("serving %s on entry port %s and own port %s", args.app, args.entry_port, args.port)
    try:
        waitress.serve(app, sockets=[entry, own], threads=args.threads, **WAITRESS_OPTIONS)
    finally:
        entry.close()
        own.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
