"""A replica under more concurrent requests than threads logs no line per queued request."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from local_stack.ports import free_port

REPO = Path(__file__).resolve().parents[2]


def test_queued_requests_are_not_logged_one_by_one(tmp_path: Path) -> None:
    entry, own = free_port(), free_port()
    log_path = tmp_path / "replica.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "local_stack.replica", "--app",
             "tests.stack.slow_wsgi_app:create_app", "--entry-port", str(entry),
             "--port", str(own), "--threads", "1"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{own}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url, timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
        with ThreadPoolExecutor(8) as pool:  # 8 at once on 1 thread: 7 wait in the queue
            statuses = list(pool.map(lambda _i: requests.get(url, timeout=30).status_code,
                                     range(8)))
        assert statuses == [200] * 8
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = log_path.read_text()
    assert "serving tests.stack.slow_wsgi_app:create_app" in text  # the log was written
    assert "Task queue depth" not in text
