"""Sale invoice lines for a chunk of days (vectorised): item mix, baskets, customers, times, quantities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trendcast.generation.catalog import Catalog
from trendcast.generation.customers import GUEST_INVOICE_SHARE, Customers, sample_countries

__all__ = [
    "LINE_FIELDS",
    "HOUR_WEIGHTS",
    "MEAN_INVOICE_LINES",
    "AFFINITY_SHARE",
    "LOWER_CASE_CODE_SHARE",
    "Lines",
    "concat_lines",
    "basket_keep_share",
    "draw_minutes",
    "mean_invoice_lines",
    "sale_lines",
]

LINE_FIELDS = (
    "inv",
    "prefix",
    "code",
    "desc",
    "qty",
    "minute",
    "price",
    "cust",
    "country",
    "seq",
    "day",
    "kind",
)
# Invoice hour-of-day weights for 07:00..20:00, after the real file.
HOUR_WEIGHTS = np.array(
    [383, 8909, 34332, 49037, 57674, 78709, 72259, 67471, 77519, 54516, 28509, 7974, 3705, 871], dtype=float
)
FIRST_HOUR = 7
MEAN_INVOICE_LINES = 20.0
_SIZE_SHAPE = 0.8  # negative binomial shape: right-skewed basket sizes (median ~ 13, mean ~ 20)
# Share of an affinity-group item's lines that are placed in a basket together with the group's other items.
AFFINITY_SHARE = 0.6
# Share of lines of letter-suffix items printed with a lower-case suffix (e.g. 85049c), as in the real file.
LOWER_CASE_CODE_SHARE = 0.005
# Wholesalers buy several packs per line.
_WHOLESALE_MULTIPLES = np.array([1, 2, 2, 3, 4, 6, 8])


@dataclass
class Lines:
    """Invoice lines in columnar form, before invoice numbers and strings are attached.

    inv: internal invoice key (unique across the run); prefix: 0 none, 1 'C', 2 'A'; code / desc: indices
    into the code and description tables (desc -1 = null); minute: minutes since the Unix epoch; cust:
    customer id as float (NaN = guest); seq: order inside the invoice; day: day offset from start; kind: see
    dirt.KINDS.
    """

    inv: np.ndarray
    prefix: np.ndarray
    code: np.ndarray
    desc: np.ndarray
    qty: np.ndarray
    minute: np.ndarray
    price: np.ndarray
    cust: np.ndarray
    country: np.ndarray
    seq: np.ndarray
    day: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return int(self.inv.shape[0])

    def take(self, idx: np.ndarray) -> Lines:
        return Lines(*(getattr(self, f)[idx] for f in LINE_FIELDS))

    @classmethod
    def empty(cls) -> Lines:
        dtypes = (
            np.int64,
            np.int8,
            np.int32,
            np.int32,
            np.int64,
            np.int64,
            np.float64,
            np.float64,
            np.int16,
            np.float64,
            np.int64,
            np.int8,
        )
        return cls(*(np.empty(0, dtype=t) for t in dtypes))


def concat_lines(parts: list[Lines]) -> Lines:
    parts = [p for p in parts if len(p)] or [Lines.empty()]
    return Lines(*(np.concatenate([getattr(p, f) for p in parts]) for f in LINE_FIELDS))


def draw_minutes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Minute of day during opening hours, weighted like the real shop's invoice times."""
    hour = rng.choice(HOUR_WEIGHTS.size, size=size, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum()) + FIRST_HOUR
    return hour * 60 + rng.integers(0, 60, size=size)


@dataclass
class Invoices:
    """Invoice-level arrays of the sale invoices in a chunk (index = local invoice number)."""

    key: np.ndarray
    day: np.ndarray
    minute: np.ndarray
    cust: np.ndarray
    country: np.ndarray
    wholesale: np.ndarray


def _affinity_keys(rng: np.random.Generator, day: np.ndarray, item: np.ndarray, catalog: Catalog) -> np.ndarray:
    """Random sort keys, except that lines of affinity-group items share anchors so they land in one basket.

    The k-th affine line of each group item on a day goes to the group's k-th anchor of that day, so an
    anchor holds at most one line per item and the group's items end up next to each other.
    """
    key = rng.random(day.size)
    groups = catalog.affinity_groups
    if not groups or not day.size:
        return key
    group_of = np.full(catalog.n, -1, dtype=np.int64)
    for g, members in enumerate(groups):
        group_of[members] = g
    ai = np.flatnonzero((group_of[item] >= 0) & (rng.random(day.size) < AFFINITY_SHARE))
    if not ai.size:
        return key
    combo = day[ai] * catalog.n + item[ai]  # already sorted: lines come out of np.repeat in (day, item) order
    starts = np.r_[0, np.flatnonzero(np.diff(combo)) + 1]
    rank = np.arange(ai.size) - np.repeat(starts, np.diff(np.r_[starts, ai.size]))
    anchor = (day[ai] * len(groups) + group_of[item[ai]]) * (int(rank.max()) + 1) + rank
    uniq, inverse = np.unique(anchor, return_inverse=True)
    key[ai] = rng.random(uniq.size)[inverse] * (1 - 1e-6) + rng.random(ai.size) * 1e-9
    return key


def mean_invoice_lines(n_items: int) -> float:
    """Mean basket size: 20 lines as in the real shop, fewer for tiny catalogues (fewer repeated items)."""
    return float(min(MEAN_INVOICE_LINES, max(3.0, n_items / 10)))


def basket_keep_share(popularity: np.ndarray, mean_lines: float, rng: np.random.Generator) -> float:
    """Expected share of drawn lines left after merging repeated items inside a basket (base popularity)."""
    sizes, count = np.unique(_invoice_sizes(rng, int(mean_lines * 4000), mean_lines), return_counts=True)
    distinct = np.array([(1.0 - (1.0 - popularity) ** float(size)).sum() for size in sizes])
    return float((distinct * count).sum() / (sizes * count).sum())


def _invoice_sizes(rng: np.random.Generator, n_lines: int, mean_lines: float) -> np.ndarray:
    mean_extra = mean_lines - 1
    sizes = np.empty(0, dtype=np.int64)
    while sizes.sum() < n_lines:
        k = int(n_lines / mean_lines * 1.5) + 10
        more = 1 + rng.negative_binomial(_SIZE_SHAPE, _SIZE_SHAPE / (_SIZE_SHAPE + mean_extra), size=k)
        sizes = np.concatenate([sizes, more])
    cs = np.cumsum(sizes)
    k = int(np.searchsorted(cs, n_lines)) + 1
    sizes = sizes[:k].copy()
    sizes[-1] -= int(cs[k - 1] - n_lines)
    return sizes


def sale_lines(
    rng: np.random.Generator,
    catalog: Catalog,
    customers: Customers,
    *,
    day: np.ndarray,
    epoch_day: np.ndarray,
    doy: np.ndarray,
    expected_lines: np.ndarray,
    days_total: int,
    first_invoice_key: int,
) -> tuple[Lines, Invoices]:
    """Draw the sale lines of the given days (all arrays per day of the chunk)."""
    n = catalog.n
    weights = catalog.mix_weights(day, doy, days_total)
    total = weights.sum(axis=1, keepdims=True)
    share = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
    counts = rng.poisson(expected_lines[:, None] * share)
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    line_day, item = cell // n, cell % n
    key = _affinity_keys(rng, line_day, item, catalog)
    order = np.lexsort((key, line_day))
    line_day, item = line_day[order], item[order]

    per_day = np.bincount(line_day, minlength=day.size)
    mean_lines = mean_invoice_lines(n)
    sizes = [_invoice_sizes(rng, int(m), mean_lines) if m else np.empty(0, dtype=np.int64) for m in per_day]
    inv_day = np.repeat(np.arange(day.size), [s.size for s in sizes])
    n_inv = inv_day.size
    line_inv = np.repeat(np.arange(n_inv), np.concatenate(sizes) if sizes else np.empty(0, dtype=np.int64))

    minute_of_day = draw_minutes(rng, n_inv)
    minute_of_day = minute_of_day[np.lexsort((minute_of_day, inv_day))]  # invoice order = time order per day
    inv_minute = epoch_day[inv_day] * 1440 + minute_of_day

    guest = rng.random(n_inv) < GUEST_INVOICE_SHARE
    cust_idx = np.full(n_inv, -1, dtype=np.int64)
    cw = customers.weights(day)
    for d in range(day.size):
        members = np.flatnonzero((inv_day == d) & ~guest)
        if members.size and cw[d].sum() > 0:
            cust_idx[members] = rng.choice(customers.n, size=members.size, p=cw[d] / cw[d].sum())
    known = cust_idx >= 0
    inv_cust = np.where(known, customers.customer_id[np.maximum(cust_idx, 0)].astype(np.float64), np.nan)
    inv_country = np.where(known, customers.country[np.maximum(cust_idx, 0)], sample_countries(rng, n_inv))
    wholesale = known & customers.is_wholesaler[np.maximum(cust_idx, 0)]

    pack = catalog.pack[item]
    k = 1 + rng.poisson(np.where(pack >= 6, 0.3, 1.0))
    k = np.where(wholesale[line_inv], k * rng.choice(_WHOLESALE_MULTIPLES, size=item.size), k)
    qty = (pack * k).astype(np.int64)
    # One line per item and invoice: an item drawn twice for a basket becomes one line with summed quantity,
    # so units keep every planted effect even where line counts saturate.
    _, first, inverse = np.unique(line_inv * n + item, return_index=True, return_inverse=True)
    qty = np.bincount(inverse.ravel(), weights=qty, minlength=first.size).astype(np.int64)
    keep = np.argsort(first, kind="stable")
    first, qty = first[keep], qty[keep]
    line_inv, item, line_day = line_inv[first], item[first], line_day[first]
    m = item.size
    price = catalog.price_on(day)[line_day, item]
    has_suffix = np.array([c[-1].isalpha() for c in catalog.stock_code])
    lower = has_suffix[item] & (rng.random(m) < LOWER_CASE_CODE_SHARE)
    code = np.where(lower, item + n, item).astype(np.int32)
    lines = Lines(
        inv=first_invoice_key + line_inv,
        prefix=np.zeros(m, dtype=np.int8),
        code=code,
        desc=item.astype(np.int32),
        qty=qty,
        minute=inv_minute[line_inv],
        price=price,
        cust=inv_cust[line_inv],
        country=inv_country[line_inv].astype(np.int16),
        seq=np.arange(m, dtype=np.float64),
        day=day[line_day],
        kind=np.zeros(m, dtype=np.int8),
    )
    invoices = Invoices(
        first_invoice_key + np.arange(n_inv),
        day[inv_day],
        inv_minute,
        inv_cust,
        inv_country.astype(np.int16),
        wholesale,
    )
    return lines, invoices
