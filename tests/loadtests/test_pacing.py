"""Rate pacing (loadtests.pacing): the request slots, the mix a paced run needs, the buyers'
purchases, and the plugin wiring `--rate` into Locust. Fake clocks: no timing assertions."""

from __future__ import annotations

from typing import Any

import pytest
from locust.env import Environment

from loadtests import plugin
from loadtests.config import RunConfig
from loadtests.journeys.browser import BrowserUser
from loadtests.journeys.buyer import BuyerUser
from loadtests.journeys.cart_contention import CartContentionUser
from loadtests.outcomes import CHECKOUT, ORDER, SHOPPERS
from loadtests.pacing import LoadMix, Pacers, RatePacer, install_pacers, pacers_for
from tests.loadtests.fakes import FakeResponse, FakeShop, make_environment, run_user
from tests.loadtests.test_plugin_summary import parse

# Locust drops a class with no weight and no fixed count from an Environment: as the plugin
# does for a paced run, give the buyer a fixed count
PacedBuyer = type("BuyerUser", (BuyerUser,), {"fixed_count": 1})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def _restore_class_counts() -> Any:
    yield
    BuyerUser.fixed_count = 0
    CartContentionUser.fixed_count = 0


def test_slots_are_one_interval_apart_for_every_caller() -> None:
    clock = FakeClock()
    pacer = RatePacer(50, clock=clock, sleep=clock.sleep)
    # five users ask at the same instant: each gets the next slot, 20 ms apart
    assert [round(pacer.reserve(), 6) for _ in range(5)] == [0.0, 0.02, 0.04, 0.06, 0.08]


def test_a_slow_spell_is_not_made_up_with_a_burst() -> None:
    clock = FakeClock()
    pacer = RatePacer(10, clock=clock, sleep=clock.sleep)
    assert pacer.wait() == 0.0
    clock.now += 5.0  # every user was busy for 5 s (a slow shop): 50 slots went unused
    waits = [pacer.wait() for _ in range(3)]
    assert waits == [0.0, pytest.approx(0.1), pytest.approx(0.1)]  # not 50 at once


def test_the_pacer_holds_the_rate_over_many_requests() -> None:
    clock = FakeClock()
    pacer = RatePacer(60, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(600):
        pacer.wait()
    assert (clock.now - start) == pytest.approx(599 / 60)  # 600 requests, 60 a second


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_a_pacer_refuses_a_rate_that_is_no_rate(bad: float) -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        RatePacer(bad)


def test_the_mix_of_a_paced_run() -> None:
    mix = LoadMix.plan(60)
    assert (mix.rate, mix.checkout_rate) == (60.0, 1.5)  # a fortieth are checkouts
    assert mix.buyers == 9 and mix.others == 10 and mix.users == 19
    given = LoadMix.plan(60, users=10)  # the same proportions in the users given
    assert (given.users, given.buyers) == (10, 5)
    assert LoadMix.plan(60, users=2).buyers == 1
    assert LoadMix.plan(30, checkout_rate=0).buyers == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rate": 0}, "requests per second > 0"),
    ({"rate": float("nan")}, "requests per second > 0"),
    ({"rate": 1e6}, "above the 10000"),
    ({"rate": 10, "checkout_rate": 5}, "need at least 20 req/s"),
    ({"rate": 10, "checkout_rate": -1}, "checkout rate must be >= 0"),
    ({"rate": 60, "users": 1}, "at least 2"),
])
def test_an_impossible_mix_is_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoadMix.plan(**kwargs)


def test_a_buyer_waits_for_a_purchase_slot_then_buys_and_follows_its_order() -> None:
    clock = FakeClock()
    environment = make_environment(PacedBuyer, RunConfig(seed=1, catalog_size=40,
                                                         order_poll_interval=0.001))
    install_pacers(environment, Pacers(requests=RatePacer(1000, clock=clock,
                                                          sleep=clock.sleep),
                                       purchases=RatePacer(2, clock=clock, sleep=clock.sleep)))
    _, client = run_user(PacedBuyer, 3, environment=environment, shop=FakeShop())
    names = [name for _, name, _, _ in client.calls]
    assert names.count(CHECKOUT) == 3  # one checkout per purchase slot
    assert names.count(SHOPPERS) == 3  # on start, then a new customer for each next purchase
    assert names.count(ORDER) == 3 * 2  # followed to COMPLETED (2 polls on the fake shop)
    purchase_waits = [s for s in clock.slept if s >= 0.4]
    assert purchase_waits == [pytest.approx(0.5, abs=0.05)] * 2  # 2 purchases/s: 0.5 s apart
    assert all(r.verdict == "success" for r in client.responses)


def test_a_shed_checkout_keeps_the_cart_for_the_next_slot() -> None:
    class SheddingShop(FakeShop):
        sheds = 1

        def answer(self, method: str, path: str, body: Any) -> FakeResponse:
            if path.endswith("/checkout") and self.sheds:
                self.sheds -= 1
                return FakeResponse(503, {"error": {"code": "dependency_unavailable"}},
                                    {"Retry-After": "0"})
            return super().answer(method, path, body)

    environment = make_environment(PacedBuyer, RunConfig(seed=1, catalog_size=40,
                                                         order_poll_interval=0.001))
    _, client = run_user(PacedBuyer, 2, environment=environment, shop=SheddingShop())
    calls = [(method, name) for method, name, _, _ in client.calls]
    adds = [c for c in calls if c[1].endswith("/items")]
    assert calls.count(("POST", CHECKOUT)) == 2 and len(adds) == 1  # same cart, tried again
    assert calls.count(("POST", SHOPPERS)) == 1


def test_every_request_waits_for_its_slot_first() -> None:
    clock = FakeClock()
    environment = make_environment(BrowserUser)
    install_pacers(environment, Pacers(requests=RatePacer(10, clock=clock, sleep=clock.sleep)))
    _, client = run_user(BrowserUser, 20, environment=environment)
    assert len(client.calls) >= 21
    # every request after the first waited 100 ms for its slot (the fake shop answers at once)
    assert len(clock.slept) == len(client.calls) - 1
    assert all(s == pytest.approx(0.1) for s in clock.slept)


def test_without_rate_nothing_is_paced_and_there_are_no_buyers() -> None:
    environment = _init()
    assert pacers_for(environment) == Pacers()
    assert BuyerUser not in environment.user_classes


def test_rate_installs_the_pacers_and_the_buyers() -> None:
    environment = _init("--rate", "60", "-u", "19")
    pacers = pacers_for(environment)
    assert pacers.requests is not None and pacers.requests.rate == 60
    assert pacers.purchases is not None and pacers.purchases.rate == 1.5
    assert pacers.mix == LoadMix(60.0, 1.5, 19, 9)
    assert BuyerUser in environment.user_classes and BuyerUser.fixed_count == 9
    explicit = _init("--rate", "60", "-u", "10", "--checkout-rate", "1.5", "--buyers", "4")
    assert pacers_for(explicit).mix == LoadMix(60.0, 1.5, 10, 4)


def test_a_bad_rate_stops_locust_with_exit_2(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        _init("--rate", "60", "-u", "5", "--buyers", "5")
    assert info.value.code == 2 and "leaves no other user" in caplog.text
    with pytest.raises(SystemExit) as info:
        parse("--rate", "0")
    assert info.value.code == 2


def _init(*argv: str) -> Environment:
    options = parse("--headless", "--host", "http://127.0.0.1:1", *argv)
    environment = Environment(user_classes=[BrowserUser, CartContentionUser],
                              host=options.host, parsed_options=options)
    runner = environment.create_local_runner()
    plugin.on_init(environment, runner=runner, web_ui=None)
    return environment


def test_the_game_days_locust_command_runs_the_mix_it_reports(tmp_path: Any) -> None:
    """gameday run plans its load with LoadMix and reports that plan as requested: the
    Locust it starts, parsing the same command line, must pace exactly that."""
    from gameday.run.locust_process import locust_argv

    planned = LoadMix.plan(60)
    argv = locust_argv("http://127.0.0.1:1", planned, 7, tmp_path, tmp_path / "out",
                       run_time_s=100)
    assert argv[1:3] == ["-m", "locust"]
    ours = [a for a in argv[3:] if a not in ("--only-summary",)]
    options, _unknown = _parser().parse_known_args(ours)
    environment = Environment(user_classes=[BrowserUser, CartContentionUser],
                              host=options.host, parsed_options=options)
    environment.create_local_runner()
    plugin.on_init(environment, runner=environment.runner, web_ui=None)
    assert pacers_for(environment).mix == planned
    assert BuyerUser.fixed_count == planned.buyers
    assert options.num_users == planned.users


def _parser() -> Any:
    from locust.argument_parser import LocustArgumentParser

    from loadtests.config import add_arguments

    parser = LocustArgumentParser(prog="locust")
    parser.add_argument("--host", "-H", default=None)
    parser.add_argument("--headless", action="store_true")
    parser.add_argument("-u", dest="num_users", type=int, default=None)
    parser.add_argument("-r", dest="spawn_rate", type=float, default=None)
    parser.add_argument("-t", dest="run_time", type=str, default=None)
    add_arguments(parser)
    return parser
