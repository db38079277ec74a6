"""Cart contention: one shopper on several devices, all editing the same cart at once.

Users of this class are grouped by `--devices-per-shopper` (default 3) in spawn order: the
first device of a group signs up (POST /v1/shoppers), the others wait for and reuse its
shopper id and token, so every device of the group writes the same cart and the cart's
optimistic concurrency control (docs/shop.md "Cart OCC") gets real concurrent writers.
Expected answers: 200 with `X-OCC-Retries: n` (counted as n conflicts.occ_retries), 409
after the shop's own retries or while another device checks the cart out (conflicts.http_409),
404 when removing an item another device already removed (cart.stale_remove). They are
successes in Locust's statistics; every conflict also fires the `cart_conflict` event.

Task weights: add an item 5, remove an item 3, view the cart 1, checkout 1 (no order polling:
the devices keep editing while the saga runs, which is the point). Think time is short
(a tenth of --think-time) to make the writes overlap. A cart held by a checkout for too long
(a slow or stuck saga) makes the group move on to a new shopper (see follow_group).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gevent.event import Event
from locust import task

from loadtests.calls import Reply
from loadtests.data import sku_for
from loadtests.journeys.base import SeededTaskSet
from loadtests.journeys.cart import CartSteps

log = logging.getLogger("loadtests.journeys.cart_contention")
_ATTR = "_gameday_shared_shoppers"
SIGN_UP_WAIT_S = 15.0
HELD_WRITES_LIMIT = 12


@dataclass
class SharedShopper:
    generation: int = 0
    ready: Event = field(default_factory=Event)
    shopper_id: str | None = None
    token: str | None = None


def shared_shoppers(environment: Any) -> dict[int, SharedShopper]:
    shoppers = getattr(environment, _ATTR, None)
    if shoppers is None:
        shoppers = {}
        setattr(environment, _ATTR, shoppers)
    return shoppers


def reset_shared_shoppers(environment: Any) -> None:
    setattr(environment, _ATTR, {})


class ContentionTasks(SeededTaskSet):
    def on_start(self) -> None:
        self.user.follow_group()

    @task(5)
    def add_item(self) -> None:
        # Few distinct products, so that devices edit the same cart entries.
        user = self.user
        user.follow_group()
        user.note(user.add_item(user.data.pick(user.hot_skus)))

    @task(3)
    def remove_item(self) -> None:
        user = self.user
        user.follow_group()
        reply = user.remove_item()
        if reply is None:
            reply = user.add_item(user.data.pick(user.hot_skus))
        user.note(reply)

    @task(1)
    def view_cart(self) -> None:
        self.user.follow_group()
        self.user.view_cart()

    @task(1)
    def checkout(self) -> None:
        user = self.user
        user.follow_group()
        if user.cart:
            user.checkout()


class CartContentionUser(CartSteps):
    """One of several devices of the same shopper."""

    role = "cart-contention"
    weight = 3
    tasks = [ContentionTasks]
    allow_stale_removes = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        devices = max(self.run_config.devices_per_shopper, 1)
        self.shopper_group = self.index // devices
        self.device = self.index % devices
        catalog = self.data.catalog_size
        self.hot_skus = [sku_for(n) for n in range(1, min(catalog, 3) + 1)]
        self.shared: SharedShopper | None = None
        self.held_writes = 0  # writes refused in a row because a checkout holds the cart

    def wait_time(self) -> float:
        low, high = self.run_config.think_time
        return self.data.think_time(low / 10, high / 10)

    def on_start(self) -> None:
        self.follow_group()

    def note(self, reply: Reply | None) -> None:
        """Count writes refused because a checkout holds the cart (see follow_group)."""
        if reply is not None and reply.outcome.code == "cart_checking_out":
            self.held_writes += 1
        elif reply is not None and reply.ok:
            self.held_writes = 0

    def follow_group(self) -> None:
        """Use the group's current shopper; start a new one if a checkout holds the cart.

        A checkout holds the cart until the order saga commits or rolls it back. If it is
        still held after HELD_WRITES_LIMIT writes in a row (a slow or stuck saga), the device
        that notices first signs a new shopper up for the group and the others follow, so the
        run keeps exercising OCC instead of collecting `cart_checking_out` answers.
        """
        shoppers = shared_shoppers(self.environment)
        current = shoppers.get(self.shopper_group)
        if current is None or (current is self.shared
                               and self.held_writes >= HELD_WRITES_LIMIT):
            generation = 0 if current is None else current.generation + 1
            if current is not None:
                log.info("shopper group %d: cart held by a checkout for %d writes, new shopper",
                         self.shopper_group, self.held_writes)
            fresh = shoppers[self.shopper_group] = SharedShopper(generation=generation)
            try:
                self.reset_cart()
                self.sign_up()
                fresh.shopper_id, fresh.token = self.shopper_id, self.token
            finally:
                fresh.ready.set()
            self.shared, self.held_writes = fresh, 0
            return
        if current is self.shared:
            return
        if not current.ready.wait(SIGN_UP_WAIT_S):
            log.warning("device %d of group %d: no shared shopper after %.0f s",
                        self.device, self.shopper_group, SIGN_UP_WAIT_S)
        self.shared, self.held_writes = current, 0
        self.reset_cart()
        if current.token is None:
            self.sign_up()  # the group's sign-up failed: carry on alone
            return
        self.shopper_id, self.token = current.shopper_id, current.token
