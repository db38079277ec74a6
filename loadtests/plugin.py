"""Wires our arguments, host rules, shapes, counters, web UI tab, gates and summary into Locust.

`install(events)` is called once by the locustfile with `locust.events`:

* init_command_line_parser -> loadtests.config.add_arguments;
* init -> run config, host (state file unless --host; loopback only unless --allow-remote),
  the --shape, the pacers and buyers of a paced run (--rate), the fixed number of contention
  users, counters, the worker/master tallies of a
  distributed run, the web UI tab;
* test_start -> fresh user indexes/shared shoppers, host check again (the web UI can change
  it), catalog size from the shop when --catalog-size is 0;
* test_stop -> on a master, every worker's last report first (loadtests.distributed); one
  log line with the conflicts seen;
* quitting -> SLO gates on the run's statistics (exit code), then the JSON summary. Under
  `--shape capacity` the gates were judged step by step by the search instead, and the run
  passes when it found a knee that meets them (loadtests.capacity).

Setup errors (bad host, impossible shape) are logged and end the process with exit code 2.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import gevent
from locust.runners import WorkerRunner

from loadtests import distributed
from loadtests.catalog import catalog_size_of
from loadtests.config import RunConfig, add_arguments, run_config, set_run_config
from loadtests.counters import counters_for
from loadtests.counters import install as install_counters
from loadtests.data import DEFAULT_CATALOG_SIZE
from loadtests.gates import GateParseError, apply_verdict, evaluate, gates_from_options
from loadtests.hosts import HostError, check_host, host_from_state
from loadtests.journeys.base import reset_user_indexes
from loadtests.journeys.buyer import BuyerUser
from loadtests.journeys.cart_contention import CartContentionUser, reset_shared_shoppers
from loadtests.pacing import LoadMix, Pacers, RatePacer, install_pacers, pacers_for
from loadtests.shapes import CapacityShape, GamedayShape, build_shape
from loadtests.status import GamedayStatus
from loadtests.summary import build_summary, write_summary
from loadtests.webui import install_web_ui

log = logging.getLogger("loadtests")
SETUP_ERROR_EXIT = 2
_GATES_ATTR = "_gameday_gates"


def _setup_error(message: str) -> SystemExit:
    log.error("%s", message)
    return SystemExit(SETUP_ERROR_EXIT)


def _headless(options: Any) -> bool:
    return bool(getattr(options, "headless", False))


def on_init(environment: Any, runner: Any = None, web_ui: Any = None, **_kw: Any) -> None:
    options = environment.parsed_options
    config = RunConfig.from_options(options)
    set_run_config(environment, config)
    try:
        setattr(environment, _GATES_ATTR, gates_from_options(options))
    except GateParseError as exc:
        raise _setup_error(str(exc)) from None

    if not environment.host:
        try:
            environment.host = host_from_state(config.state_dir)
            log.info("target from the gameday state file: %s", environment.host)
        except HostError as exc:
            if _headless(options) or web_ui is None:
                raise _setup_error(f"{exc}; or pass --host") from None
            log.warning("%s; enter a host in the web UI", exc)
    if environment.host:
        try:
            environment.host = check_host(environment.host.rstrip("/"), config.allow_remote)
        except HostError as exc:
            raise _setup_error(str(exc)) from None

    try:
        shape = build_shape(options)
    except ValueError as exc:
        raise _setup_error(f"--shape: {exc}") from None
    if shape is not None:
        shape.runner = runner
        environment.shape_class = shape
        log.info("load shape: %s", shape.describe())
        if isinstance(shape, CapacityShape) and shape.search.defaulted:
            log.info("capacity: no per-step gate given; each step is judged on %s",
                     ", ".join(f"{g.label} <= {g.limit:g}" for g in shape.search.gates))

    if config.rate is not None:
        try:
            install_paced_mix(environment, config)
        except ValueError as exc:
            raise _setup_error(f"--rate: {exc}") from None

    if config.contention_users is not None:
        for user_class in environment.user_classes:
            if issubclass(user_class, CartContentionUser):
                user_class.fixed_count = config.contention_users

    install_counters(environment)
    distributed.install(environment, config.json_summary)  # after the counters: reads them
    if web_ui is not None:
        status = GamedayStatus(config.state_dir,
                               counters=lambda: counters_for(environment).snapshot())
        install_web_ui(web_ui, status)


def install_paced_mix(environment: Any, config: RunConfig) -> LoadMix:
    """A paced run: the request and purchase pacers, and the buyers as a fixed count (added
    to the user classes: BuyerUser has no weight in the classic mix)."""
    users = getattr(environment.parsed_options, "num_users", None)
    assert config.rate is not None
    mix = LoadMix.plan(config.rate, config.checkout_rate, users=users)
    if config.buyers is not None:
        if users is not None and config.buyers >= users:
            raise ValueError(f"--buyers {config.buyers} leaves no other user of the {users}")
        mix = dataclasses.replace(mix, buyers=config.buyers)
    install_pacers(environment, Pacers(
        requests=RatePacer(mix.rate),
        purchases=RatePacer(mix.checkout_rate) if mix.checkout_rate > 0 else None, mix=mix))
    if mix.buyers and mix.checkout_rate > 0:
        if BuyerUser not in environment.user_classes:
            environment.user_classes.append(BuyerUser)
        BuyerUser.fixed_count = mix.buyers
    log.info("paced run: %g req/s, %g checkouts/s; %s users, %d of them buyers", mix.rate,
             mix.checkout_rate, users if users is not None else "?", mix.buyers)
    return mix


def on_test_start(environment: Any, **_kw: Any) -> None:
    reset_user_indexes(environment)
    reset_shared_shoppers(environment)
    config = run_config(environment)
    host = environment.host
    if host:
        try:
            check_host(host, config.allow_remote)
        except HostError as exc:
            log.error("%s: stopping", exc)
            environment.process_exit_code = SETUP_ERROR_EXIT
            gevent.spawn(environment.runner.quit)
            return
    if config.catalog_size == 0 and host:
        try:
            size = catalog_size_of(host)
        except Exception as exc:  # noqa: BLE001 - fall back, the run can still go on
            log.warning("could not ask the shop for its catalog size (%s); assuming %d",
                        exc, DEFAULT_CATALOG_SIZE)
            size = DEFAULT_CATALOG_SIZE
        if size == 0:
            log.warning("the shop has no product SKU-00001; assuming %d", DEFAULT_CATALOG_SIZE)
            size = DEFAULT_CATALOG_SIZE
        log.info("catalog: SKU-00001..SKU-%05d", size)
        set_run_config(environment, dataclasses.replace(config, catalog_size=size))


def on_test_stop(environment: Any, **_kw: Any) -> None:
    distributed.flush(environment)  # a master first gets every worker's last report
    conflicts = counters_for(environment).conflicts()
    log.info("cart conflicts seen: %d (409: %d, OCC retries: %d)", conflicts["total"],
             conflicts["http_409"], conflicts["occ_retries"])


def on_quitting(environment: Any, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # the master judges and reports
    stats = environment.stats
    shape = environment.shape_class
    if isinstance(shape, CapacityShape):
        results = capacity_verdict(environment, shape)
    else:
        results = evaluate(getattr(environment, _GATES_ATTR, []), stats)
        apply_verdict(environment, results)
    config = run_config(environment)
    if config.json_summary:
        summary = build_summary(
            stats, seed=config.seed, host=environment.host,
            shape=shape.describe() if isinstance(shape, GamedayShape) else None,
            gate_results=results, counters=counters_for(environment),
            exit_code=environment.process_exit_code,
            users=getattr(environment.parsed_options, "num_users", None),
            workers=distributed.worker_totals(environment),
            pacing=mix.describe() if (mix := pacers_for(environment).mix) else None)
        path = write_summary(config.json_summary, summary)
        log.info("JSON summary written to %s", path)


def capacity_verdict(environment: Any, shape: CapacityShape) -> list[Any]:
    """The capacity search's verdict decides the exit code: 0 with a knee that meets the
    gates, else 1 (the broken last step's failures do not make the run fail)."""
    search = shape.search
    search.stop_early("the run ended before the search did")
    results = search.verdict()
    passed = apply_verdict(environment, results)
    environment.process_exit_code = 0 if passed else 1
    knee = search.knee
    if knee is None:
        log.error("capacity: no step met the gates (%s)", search.stopped_because)
    else:
        log.info("capacity: the knee is %.1f req/s at %d users (p95 %s ms, p99 %s ms, "
                 "failures %.2f%%); %s", knee.rps, knee.users, knee.p95_ms, knee.p99_ms,
                 100 * knee.failure_ratio, search.stopped_because)
    return results


def install(events: Any) -> None:
    """Register every listener on Locust's events (idempotent)."""
    if getattr(events, "_gameday_installed", False):
        return
    events._gameday_installed = True
    events.init_command_line_parser.add_listener(add_arguments)
    events.init.add_listener(on_init)
    events.test_start.add_listener(on_test_start)
    events.test_stop.add_listener(on_test_stop)
    events.quitting.add_listener(on_quitting)
