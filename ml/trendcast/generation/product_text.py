"""Product text: one description per item and a few templated reviews whose rating follows hidden quality."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa

from trendcast.generation.catalog import CATEGORIES, Catalog

__all__ = ["REVIEW_RATING_MODEL", "PRODUCT_TEXT_SCHEMA", "product_text_table", "review_rating"]

PRODUCT_TEXT_SCHEMA = pa.schema(
    [
        ("stock_code", pa.string()),
        ("kind", pa.string()),
        ("text", pa.string()),
        ("category", pa.string()),
        ("rating", pa.int32()),
        ("written_at", pa.timestamp("us")),
    ]
)
REVIEW_RATING_MODEL = "rating = clip(round(3.4 + 0.9 * quality + N(0, 0.7)), 1, 5)"

_OPENERS = {
    5: ["Absolutely love this {noun}.", "Gorgeous {noun}, even nicer than the photos.", "Perfect {noun}!"],
    4: ["Really nice {noun}.", "Good quality {noun} for the price.", "Pretty {noun}, customers like it."],
    3: ["The {noun} is okay.", "Average {noun}, does the job.", "Decent {noun} but nothing special."],
    2: [
        "Disappointed with this {noun}.",
        "The {noun} looks cheaper than pictured.",
        "Not great, the {noun} feels flimsy.",
    ],
    1: [
        "Terrible {noun}, arrived broken.",
        "Poor quality {noun}, would not reorder.",
        "Awful {noun}, returned it.",
    ],
}
_CLOSERS = {
    5: ["Sold out in our shop within a week.", "Will definitely order again.", "Highly recommended."],
    4: ["Would buy again.", "Arrived quickly and well packed.", "Nice colours."],
    3: ["Delivery was fine.", "Might order again.", "Smaller than expected."],
    2: ["Paint chipped on two of them.", "Packaging was damaged.", "Not sure I would reorder."],
    1: ["Waste of money.", "Several pieces were smashed.", "Asked for a refund."],
}


def review_rating(rng: np.random.Generator, quality: np.ndarray) -> np.ndarray:
    """Star ratings that rise with the hidden quality (which also lifts demand, see catalog.py)."""
    return np.clip(np.round(3.4 + 0.9 * quality + rng.normal(0, 0.7, quality.size)), 1, 5).astype(np.int32)


def product_text_table(rng: np.random.Generator, catalog: Catalog, start: date, days: int) -> pa.Table:
    """Description rows (with category) then reviews (1-6 per item, more for popular items)."""
    codes, kinds, texts, cats, ratings, written = [], [], [], [], [], []
    for i in range(catalog.n):  # one row per item: catalogue-sized, not a hot path
        category = CATEGORIES[catalog.category[i]]
        name = catalog.clean_description[i]
        texts.append(f"{name.capitalize()}. Part of our {category} range, sold in packs of {catalog.pack[i]}.")
        codes.append(catalog.stock_code[i])
        kinds.append("description")
        cats.append(category)
        ratings.append(None)
        written.append(None)
    n_reviews = 1 + np.minimum(rng.poisson(1.0 + 2.0 * catalog.popularity * catalog.n), 5)
    item = np.repeat(np.arange(catalog.n), n_reviews)
    rating = review_rating(rng, catalog.quality[item])
    first = np.maximum(catalog.launch_day[item], 0)
    last = np.minimum(catalog.discontinue_day[item], days) + 30
    day = first + (rng.random(item.size) * np.maximum(last - first, 1)).astype(np.int64)
    minute = rng.integers(6 * 60, 23 * 60, item.size)
    base = datetime(start.year, start.month, start.day)
    for j, i in enumerate(item.tolist()):
        r = int(rating[j])
        noun = catalog.noun[i].lower()
        text = f"{rng.choice(_OPENERS[r]).format(noun=noun)} {rng.choice(_CLOSERS[r])}"
        codes.append(catalog.stock_code[i])
        kinds.append("review")
        texts.append(text)
        cats.append(None)
        ratings.append(r)
        written.append(base + timedelta(days=int(day[j]), minutes=int(minute[j])))
    return pa.table([codes, kinds, texts, cats, ratings, written], schema=PRODUCT_TEXT_SCHEMA)
