"""The shop's load test: `locust -f loadtests/locustfile.py` (web UI) or with `--headless`.

User classes and weights (browse-heavy, a few percent checkouts):
    BrowserUser 70, ShopperUser 20, ReviewerUser 7, CartContentionUser 3; with --rate (a paced
    run, loadtests.pacing) also BuyerUser, a fixed count checking out at --checkout-rate.
Pick some with positional class names, e.g. `locust -f ... --headless ShopperUser`.
Custom arguments (see `locust -f loadtests/locustfile.py --help`): --seed, --catalog-size,
--think-time, --devices-per-shopper, --contention-users, --order-poll-max/-interval,
--max-retry-after, --shed-is-failure, --rate, --checkout-rate, --buyers, --state-dir,
--allow-remote, --shape and its --shape-*/--step-*/--spike-* parameters,
--gate-failure-ratio/-p95/-p99/-min-rps, --json-summary. No shape classes are imported here
on purpose: --shape picks one at init.
"""

from __future__ import annotations

import sys
from pathlib import Path

from locust import events

try:
    import loadtests  # noqa: F401
except ModuleNotFoundError:  # run from a checkout that is not installed: use the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadtests import plugin  # noqa: E402
from loadtests.journeys.browser import BrowserUser  # noqa: E402
from loadtests.journeys.buyer import BuyerUser  # noqa: E402
from loadtests.journeys.cart_contention import CartContentionUser  # noqa: E402
from loadtests.journeys.reviewer import ReviewerUser  # noqa: E402
from loadtests.journeys.shopper import ShopperUser  # noqa: E402

__all__ = ["BrowserUser", "BuyerUser", "CartContentionUser", "ReviewerUser", "ShopperUser"]

plugin.install(events)
