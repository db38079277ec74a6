"""Distributed mode (`--processes` / `--master` + `--worker`): what the master sends its workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from locust.argument_parser import LocustArgumentParser
from locust.rpc.protocol import Message

from loadtests.config import RunConfig, add_arguments


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
