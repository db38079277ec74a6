"""Distributed mode (`--processes` / `--master` + `--worker`): what the master sends its workers,
and loadtests.distributed (the final reports, each worker's own count)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gevent
import pytest
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.rpc.protocol import Message
from locust.runners import STATE_MISSING, MasterRunner, WorkerNode, WorkerNodes

from loadtests import distributed
from loadtests.config import RunConfig, add_arguments
from loadtests.journeys.browser import BrowserUser


def parse(*argv: str) -> Any:
    parser = LocustArgumentParser(prog="locust")
    add_arguments(parser)
    return parser.parse_args(list(argv))


EVERY_OPTION = ("--state-dir", "/tmp/state", "--json-summary", "/tmp/out/summary.json",
                "--think-time", "0.1:0.2", "--gate-p99", "GET /v1/products/{sku}=500",
                "--gate-failure-ratio", "0.01", "--gate-min-rps", "3", "--shape", "step",
                "--step-duration", "10s", "--seed", "7")


def test_custom_options_survive_the_trip_to_the_workers() -> None:
    # The master sends vars(parsed_options) in every spawn message (msgpack): a Path there
    # made the master's spawn fail and the workers never started a user.
    options = parse(*EVERY_OPTION)
    wire = Message.unserialize(Message("spawn", {"parsed_options": vars(options)},
                                       "worker-1").serialize())
    received = wire.data["parsed_options"]
    config = RunConfig.from_options(type("Options", (), received)())
    assert config.state_dir == Path("/tmp/state")
    assert config.json_summary == Path("/tmp/out/summary.json")
    assert config.think_time == (0.1, 0.2) and config.seed == 7


class FakeMaster(MasterRunner):
    """A MasterRunner's clients and send_message, without sockets: each worker in `replies`
    answers a flush with its final report after that many seconds (None: never)."""

    def __init__(self, environment: Any, replies: dict[str, float | None]) -> None:
        self.environment = environment
        self.clients = WorkerNodes()
        for client_id in replies:
            self.clients[client_id] = WorkerNode(client_id)
        self.replies = replies
        self.worker_indexes = {client_id: i for i, client_id in enumerate(replies)}
        self.sent: list[str] = []
        self.greenlet = None  # type: ignore[assignment]  (Runner.__del__ reads it)

    def send_message(self, msg_type: str, data: Any = None, client_id: str | None = None) -> None:
        self.sent.append(msg_type)
        for worker, delay in self.replies.items():
            if delay is not None:
                gevent.spawn_later(delay, self.environment.events.worker_report.fire,
                                   client_id=worker,
                                   data={"stats_total": {"num_requests": 5, "num_failures": 1},
                                         distributed.FINAL_KEY: True})


def master(replies: dict[str, float | None]) -> tuple[Environment, FakeMaster]:
    environment = Environment(user_classes=[BrowserUser])
    runner = FakeMaster(environment, replies)
    environment.runner = runner
    distributed.install(environment, None)
    return environment, runner


def test_flush_waits_for_every_workers_final_report() -> None:
    environment, runner = master({"w0": 0.05, "w1": 0.3})
    environment.events.worker_report.fire(client_id="w0",
                                          data={"stats_total": {"num_requests": 7}})
    distributed.flush(environment, timeout_s=5)
    assert runner.sent == [distributed.FLUSH_MESSAGE]
    # it returned with both final reports in (w1 answers last)
    assert distributed.worker_totals(environment) == [
        {"worker_index": 0, "client_id": "w0", "requests": 12, "failures": 1,
         "final_report": True},
        {"worker_index": 1, "client_id": "w1", "requests": 5, "failures": 1,
         "final_report": True}]


def test_flush_gives_up_on_a_silent_worker(caplog: pytest.LogCaptureFixture) -> None:
    environment, runner = master({"w0": 0.01, "w1": None})
    started = time.monotonic()
    distributed.flush(environment, timeout_s=0.3)
    assert time.monotonic() - started >= 0.3
    assert "no final report within 0.3 s from 1 worker(s)" in caplog.text
    totals = {row["client_id"]: row["final_report"]
              for row in distributed.worker_totals(environment) or []}
    assert totals == {"w0": True}


def test_flush_forgets_a_worker_gone_missing() -> None:
    environment, runner = master({"w0": 0.01, "w1": None})
    runner.clients["w1"].state = STATE_MISSING
    started = time.monotonic()
    distributed.flush(environment, timeout_s=5)
    assert time.monotonic() - started < 4  # not the 5 s timeout


def test_nothing_to_flush_on_a_local_runner() -> None:
    environment = Environment(user_classes=[BrowserUser])
    environment.create_local_runner()
    distributed.install(environment, None)
    distributed.flush(environment, timeout_s=5)
    assert distributed.worker_totals(environment) is None


def test_worker_tally_and_its_file(tmp_path: Path) -> None:
    tally = distributed.WorkerTally()
    tally.on_request(request_type="GET", name="/a", response_time=3)
    tally.on_request(request_type="GET", name="/a", exception=RuntimeError("x"))
    tally.counters.merge({"conflicts.http_409": {"/v1/carts/{cart_id}/items": 2}})
    assert tally.to_dict(1, "c1") == {"worker_index": 1, "client_id": "c1", "requests": 2,
                                      "failures": 1, "counters": {"conflicts.http_409": 2}}
    assert distributed.worker_file(tmp_path / "summary.json", 3) == \
        tmp_path / "summary.worker-3.json"
