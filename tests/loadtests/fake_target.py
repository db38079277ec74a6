"""A fake target for the capacity search and the soak recorder: a closed-loop shop whose latency
grows with its load, logging into a real Locust RequestStats one simulated second at a time."""

from __future__ import annotations

from locust.stats import RequestStats

# Per hundred requests: most at the mean latency, a slower tail (so p95 and p99 differ).
TAIL = ((90, 1.0), (5, 2.0), (4, 3.0), (1, 4.0))


class FakeTarget:
    """`users` each send a request every `think_s` (closed loop); the shop serves at most
    `capacity_rps`; latency = base_ms / (1 - utilisation), capped at 99 % utilisation, as a
    queue's would; above capacity the excess fails. `transient_s` seconds after the users
    change, latency is 10x (the spawn's own disturbance). `slowdown_per_s` adds that fraction
    of base_ms to every request per simulated second (a leak, for the soak)."""

    def __init__(self, capacity_rps: float = 100.0, base_ms: float = 20.0,
                 think_s: float = 0.5, transient_s: int = 0,
                 slowdown_per_s: float = 0.0) -> None:
        self.stats = RequestStats(use_response_times_cache=False)
        self.capacity_rps, self.base_ms, self.think_s = capacity_rps, base_ms, think_s
        self.transient_s, self.slowdown_per_s = transient_s, slowdown_per_s
        self.users = 0
        self.seconds = 0
        self._since_change = 0

    def set_users(self, users: int) -> None:
        if users != self.users:
            self.users, self._since_change = users, 0

    def utilisation(self, users: int | None = None) -> float:
        users = self.users if users is None else users
        return users / self.think_s / self.capacity_rps

    def latency_ms(self, users: int | None = None) -> float:
        rho = min(self.utilisation(users), 0.99)
        latency = self.base_ms / (1 - rho) + self.base_ms * self.slowdown_per_s * self.seconds
        if self._since_change < self.transient_s:
            latency *= 10
        return latency

    def run_second(self) -> None:
        offered = self.users / self.think_s
        served = min(offered, self.capacity_rps)
        failed = round(offered - served)
        latency = self.latency_ms()
        total = round(served)
        for share, factor in TAIL:
            for _ in range(round(total * share / 100)):
                self.stats.log_request("GET", "/v1/products/{sku}", round(latency * factor), 10)
        for _ in range(failed):
            self.stats.log_request("GET", "/v1/products/{sku}", round(latency * 4), 0)
            self.stats.log_error("GET", "/v1/products/{sku}", "timeout")
        self.seconds += 1
        self._since_change += 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
