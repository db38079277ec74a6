"""A stand-in for the X-Ray daemon: receives the SDK's UDP segments and forwards them to the
local AWS endpoint's X-Ray API (PutTraceSegments), so traces can be listed and read back with
boto3 (GetTraceSummaries, BatchGetTraces) exactly as on AWS.

Why hand-written: the real X-Ray daemon is a Go binary that is not on PyPI or in Debian and
only talks to real AWS endpoints over SigV4-signed HTTPS; the protocol on the UDP side is one
JSON header line (`{"format": "json", "version": 1}`) followed by one segment document.

Run as `python -m local_stack.xray_daemon --port 2000` with AWS_ENDPOINT_URL set.
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import signal
import socket
import sys
import threading
import time
from typing import Any

log = logging.getLogger("local_stack.xray_daemon")

HEADER = b'{"format": "json", "version": 1}'
MAX_BATCH = 50  # PutTraceSegments accepts at most 50 documents per call


def parse_datagram(data: bytes) -> str | None:
    """The segment document of one datagram, or None when it is not an X-Ray segment."""
    head, sep, body = data.partition(b"\n")
    if not sep:
        return None
    try:
        header = json.loads(head)
        if header.get("format") != "json":
            return None
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    if not isinstance(doc, dict) or "trace_id" not in doc or "id" not in doc:
        return None
    return body.decode()


class Forwarder:
    """Batches segment documents and sends them to PutTraceSegments every flush interval."""

    def __init__(self, xray_client: Any, flush_interval_s: float = 0.5) -> None:
        self.client = xray_client
        self.flush_interval_s = flush_interval_s
        self.queue: queue.Queue[str] = queue.Queue(maxsize=100_000)
        self.sent = 0
        self.rejected = 0
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xray-forwarder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def offer(self, doc: str) -> None:
        try:
            self.queue.put_nowait(doc)
        except queue.Full:
            self.dropped += 1

    def flush(self) -> None:
        batch: list[str] = []
        while True:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
            if len(batch) == MAX_BATCH:
                self._send(batch)
                batch = []
        if batch:
            self._send(batch)

    def _send(self, batch: list[str]) -> None:
        try:
            resp = self.client.put_trace_segments(TraceSegmentDocuments=batch)
        except Exception:  # the endpoint may be restarting; segments are best effort, as on AWS
            log.exception("PutTraceSegments failed for %d segments", len(batch))
            self.dropped += len(batch)
            return
        unprocessed = resp.get("UnprocessedTraceSegments", [])
        self.rejected += len(unprocessed)
        self.sent += len(batch) - len(unprocessed)
        for bad in unprocessed[:3]:
            log.warning("segment rejected: %s", bad)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            self.flush()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()


def serve(port: int, host: str = "127.0.0.1") -> int:
    import boto3

    client = boto3.client("xray")
    forwarder = Forwarder(client)
    forwarder.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind((host, port))
    sock.settimeout(0.5)
    stopping = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("X-Ray receiver on udp://%s:%d forwarding to the local X-Ray API", host, port)
    last_report = time.monotonic()
    while not stopping.is_set():
        try:
            data = sock.recv(65536)
        except TimeoutError:
            data = b""
        if data:
            doc = parse_datagram(data)
            if doc is not None:
                forwarder.offer(doc)
        if time.monotonic() - last_report > 60:
            log.info("segments sent=%d rejected=%d dropped=%d",
                     forwarder.sent, forwarder.rejected, forwarder.dropped)
            last_report = time.monotonic()
    forwarder.stop()
    sock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="UDP X-Ray segment receiver for the local stack")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return serve(args.port, args.host)


if __name__ == "__main__":
    sys.exit(main())
