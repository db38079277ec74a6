"""Deterministic catalog seeding: products, sales of the week, reviews, likes, the keyword
index and the weekly-products read view, written with batch writers.

Everything is derived from `random.Random(seed)` and a Faker instance seeded with the same
seed, so the same seed (and ISO week) always gives the same rows. Timestamps of seeded reviews
are placed in the seeded week, not at "now", for the same reason.
"""

from __future__ import annotations

import logging
import random
import re
import uuid
from typing import Any

from faker import Faker

from reference_app.aws import resource
from reference_app.clock import iso_week, now_s, week_start
from reference_app.config import Settings

log = logging.getLogger(__name__)

SALE_SLOTS = 20
CATEGORIES: dict[str, list[str]] = {
    "kitchen": ["kettle", "skillet", "teapot", "knife", "grater", "colander", "mug"],
    "garden": ["trowel", "planter", "hose", "rake", "lantern", "birdhouse"],
    "books": ["novel", "atlas", "cookbook", "journal", "almanac", "guide"],
    "toys": ["kite", "puzzle", "robot", "yoyo", "blocks", "marbles"],
    "outdoor": ["tent", "backpack", "hammock", "compass", "canteen", "flashlight"],
    "electronics": ["speaker", "charger", "headphones", "keyboard", "mouse", "webcam"],
    "beauty": ["soap", "lotion", "brush", "perfume", "comb", "balm"],
    "grocery": ["coffee", "tea", "honey", "chocolate", "olive-oil", "granola"],
}
ADJECTIVES = ["classic", "compact", "deluxe", "eco", "vintage", "smart", "rugged", "tiny",
              "grand", "bright", "silent", "swift", "cozy", "bold"]
_WORD = re.compile(r"[a-z0-9-]+")


def product_sku(number: int) -> str:
    """SKU of the n-th seeded product: SKU-00001, SKU-00002, ..."""
    return f"SKU-{number:05d}"


def _keywords(*texts: str) -> list[str]:
    words: set[str] = set()
    for text in texts:
        words.update(w for w in _WORD.findall(text.lower()) if len(w) >= 3)
    return sorted(words)


def _product(number: int, rng: random.Random, fake: Faker, now: int) -> dict[str, Any]:
    category = rng.choice(sorted(CATEGORIES))
    noun = rng.choice(CATEGORIES[category])
    adjective = rng.choice(ADJECTIVES)
    color = fake.color_name()
    name = f"{color} {adjective} {noun}".title()
    description = fake.sentence(nb_words=12)
    extra = fake.words(nb=2)
    qty = rng.randint(20, 200)
    return {
        "ProductId": product_sku(number),
        "TranId": "0",
        "Name": name,
        "Description": description,
        "Category": category,
        "Keywords": _keywords(name, category, " ".join(extra)),
        "PriceCents": rng.randint(199, 19999),
        "Qty": qty,
        "InitialQty": qty,
        "LastUpdate": now,
    }


def _reviews_and_likes(sku: str, on_sale: bool, rng: random.Random, fake: Faker,
                       week_epoch: int) -> tuple[list[dict[str, Any]], int, int]:
    rows: list[dict[str, Any]] = []
    n_reviews = rng.randint(1, 6) if on_sale else rng.randint(0, 3)
    for _ in range(n_reviews):
        created_ms = (week_epoch - rng.randint(0, 30 * 86400)) * 1000 + rng.randint(0, 999)
        review_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        rows.append({
            "ProductId": sku,
            "ItemId": f"REVIEW#{created_ms}#{review_id}",
            "ShopperId": f"seed-shopper-{rng.randint(1, 500):04d}",
            "Rating": rng.randint(1, 5),
            "Text": fake.sentence(nb_words=10),
            "CreatedAt": created_ms // 1000,
        })
    likers = sorted(rng.sample(range(1, 501), rng.randint(0, 12 if on_sale else 5)))
    for liker in likers:
        rows.append({"ProductId": sku, "ItemId": f"LIKE#seed-shopper-{liker:04d}",
                     "ShopperId": f"seed-shopper-{liker:04d}",
                     "CreatedAt": week_epoch - rng.randint(0, 30 * 86400)})
    rows.append({"ProductId": sku, "ItemId": "COUNTS", "Reviews": n_reviews,
                 "Likes": len(likers)})
    return rows, n_reviews, len(likers)


def seed_catalog(settings: Settings, seed: int = 42, products: int = 200, *,
                 week: str | None = None) -> dict[str, Any]:
    """Write the seeded catalog and return a summary (row counts, initial stock total).

    `week` (default: the current ISO week) is the week the ~20 sale items and the weekly
    read-view rows belong to. Rows are overwritten, so seeding twice with the same arguments
    leaves the same data.
    """
    if products < 1:
        raise ValueError(f"products must be >= 1, got {products}")
    rng = random.Random(seed)
    fake = Faker()
    fake.seed_instance(seed)
    week = week or iso_week()
    week_epoch = week_start(week)
    now = now_s()

    catalog = [_product(n, rng, fake, now) for n in range(1, products + 1)]
    on_sale = set(rng.sample(range(len(catalog)), min(SALE_SLOTS, len(catalog))))
    for index in sorted(on_sale):
        row = catalog[index]
        row["SalePriceCents"] = max(99, row["PriceCents"] * rng.randint(50, 90) // 100)
        row["OnSaleWeek"] = week

    ddb = resource("dynamodb", settings)
    names = settings.tables
    review_rows = like_rows = keyword_rows = 0
    weekly: list[dict[str, Any]] = []
    with ddb.Table(names.products).batch_writer() as products_w, \
            ddb.Table(names.keywords).batch_writer() as keywords_w, \
            ddb.Table(names.reviews).batch_writer() as reviews_w:
        for index, row in enumerate(catalog):
            products_w.put_item(Item=row)
            for word in row["Keywords"]:
                keywords_w.put_item(Item={"Keyword": word, "ProductId": row["ProductId"]})
                keyword_rows += 1
            rows, n_reviews, n_likes = _reviews_and_likes(
                row["ProductId"], index in on_sale, rng, fake, week_epoch)
            for review_row in rows:
                reviews_w.put_item(Item=review_row)
            review_rows += n_reviews
            like_rows += n_likes
            if index in on_sale:
                weekly.append({
                    "Week": week, "ProductId": row["ProductId"], "Name": row["Name"],
                    "PriceCents": row["PriceCents"], "SalePriceCents": row["SalePriceCents"],
                    "Reviews": n_reviews, "Likes": n_likes,
                })
    with ddb.Table(names.weekly).batch_writer() as weekly_w:
        for weekly_row in weekly:
            weekly_w.put_item(Item=weekly_row)

    summary = {
        "seed": seed,
        "week": week,
        "products": len(catalog),
        "on_sale": len(weekly),
        "reviews": review_rows,
        "likes": like_rows,
        "keyword_rows": keyword_rows,
        "weekly_rows": len(weekly),
        "initial_stock_total": sum(row["Qty"] for row in catalog),
    }
    log.info("seeded catalog: %s", summary)
    return summary
