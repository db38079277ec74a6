"""Seeded test data: every simulated user draws its choices from its own RNG and Faker.

The run seed (`--seed`, default 42) plus the user's role and index (and the worker index in a
distributed run) give each user its own seed, so the same run seed replays the same sequence of
requests and parameters for the n-th user of a role. SKUs come from the catalog scheme
`SKU-00001`..`SKU-<n>` (n = the catalog size) or from products the user has already seen in
the shop's own answers (search hits, the weekly view), which are the same for the same catalog.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence

from faker import Faker

DEFAULT_SEED = 42
DEFAULT_CATALOG_SIZE = 40
_WORD = re.compile(r"[a-z]{3,}")


def derive_seed(run_seed: int, role: str, index: int, worker: int = 0) -> int:
    """A stable 64-bit seed for one user: independent of PYTHONHASHSEED and of the process."""
    material = f"{run_seed}:{worker}:{role}:{index}".encode()
    return int.from_bytes(hashlib.sha256(material).digest()[:8], "big")


def sku_for(number: int) -> str:
    """The n-th product's SKU in the catalog scheme (1-based): SKU-00001, SKU-00002, ..."""
    return f"SKU-{number:05d}"


class UserData:
    """One simulated user's deterministic source of choices and generated text."""

    def __init__(self, run_seed: int, role: str, index: int, catalog_size: int,
                 worker: int = 0) -> None:
        if catalog_size < 1:
            raise ValueError(f"catalog size must be at least 1, got {catalog_size}")
        self.seed = derive_seed(run_seed, role, index, worker)
        self.role = role
        self.index = index
        self.catalog_size = catalog_size
        self.rng = random.Random(self.seed)
        # Think times have their own stream so that timing never shifts the request sequence.
        self.wait_rng = random.Random(self.seed ^ 0x5EED)
        self.fake = Faker("en_US")
        self.fake.seed_instance(self.seed)
        self.seen_skus: list[str] = []
        self.vocabulary: list[str] = []

    # -- products ---------------------------------------------------------------------------
    def catalog_sku(self) -> str:
        """A SKU from the catalog scheme, with a popularity skew (low numbers sell more)."""
        # A triangular draw with its mode at 1 gives a long tail: a few hot products.
        number = int(self.rng.triangular(1, self.catalog_size + 1, 1))
        return sku_for(min(max(number, 1), self.catalog_size))

    def sku(self) -> str:
        """Mostly a product seen in the shop's answers (clicks on results), else the catalog."""
        if self.seen_skus and self.rng.random() < 0.5:
            return self.rng.choice(self.seen_skus)
        return self.catalog_sku()

    def remember_skus(self, skus: Iterable[str]) -> None:
        for sku in skus:
            if sku and sku not in self.seen_skus:
                self.seen_skus.append(sku)
        del self.seen_skus[:-50]

    def learn_words(self, texts: Iterable[str]) -> None:
        """Keep words from product names/keywords the shop showed, to search for them later."""
        for text in texts:
            for word in _WORD.findall(str(text).lower()):
                if word not in self.vocabulary:
                    self.vocabulary.append(word)
        del self.vocabulary[:-200]

    def search_term(self) -> str:
        """A word the user saw in the catalog (most searches), else a random dictionary word."""
        if self.vocabulary and self.rng.random() < 0.7:
            return self.rng.choice(self.vocabulary)
        return self.fake.word()

    def search_limit(self) -> int:
        return self.rng.choice((10, 10, 10, 20, 5))

    # -- carts, reviews, people -------------------------------------------------------------
    def quantity(self) -> int:
        return 1 if self.rng.random() < 0.8 else 2

    def pick(self, options: Sequence[str]) -> str:
        return self.rng.choice(list(options))

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def rating(self) -> int:
        """Star ratings skew positive, as in real shops (J-shaped distribution)."""
        return self.rng.choices((1, 2, 3, 4, 5), weights=(8, 4, 8, 25, 55))[0]

    def review_text(self) -> str:
        return self.fake.sentence(nb_words=self.rng.randint(6, 18))

    def shopper_name(self) -> str:
        return self.fake.name()

    def think_time(self, low: float, high: float) -> float:
        return self.wait_rng.uniform(low, high) if high > low else max(low, 0.0)
