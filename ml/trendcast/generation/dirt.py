"""Dirty rows of every kind the cleaning rules flag (CONTRACTS.md section 3), planted at known rates."""

from __future__ import annotations

import numpy as np

from trendcast.generation.catalog import Catalog
from trendcast.generation.customers import COUNTRY_NAMES
from trendcast.generation.transactions import Invoices, Lines, concat_lines, draw_minutes

__all__ = [
    "KINDS",
    "NON_PRODUCT",
    "STOCK_NOTES",
    "DIRT_RATES",
    "BAD_DEBT_TRIPLES_PER_LINE",
    "code_table",
    "description_table",
    "plant_dirt",
]

# Internal row kinds (Lines.kind). Only "sale" rows are clean; see docs/generator.md for each kind's flags.
KINDS = (
    "sale",
    "duplicate",
    "cancellation",
    "stock_adjustment",
    "zero_price",
    "null_description",
    "non_product",
    "non_product_cancellation",
    "bad_debt",
)
# code -> description; codes and prices modelled on the real file's non-product lines.
NON_PRODUCT: dict[str, str] = {
    "POST": "POSTAGE",
    "DOT": "DOTCOM POSTAGE",
    "M": "Manual",
    "C2": "CARRIAGE",
    "D": "Discount",
    "BANK CHARGES": "Bank Charges",
    "AMAZONFEE": "AMAZON FEE",
    "B": "Adjust bad debt",
}
_NP = {c: j for j, c in enumerate(NON_PRODUCT)}
STOCK_NOTES = (
    "damaged",
    "damages",
    "check",
    "missing",
    "sold as set on dotcom",
    "thrown away",
    "wet damaged",
    "?",
    "smashed",
    "Unsaleable, destroyed.",
)
# Rows per sale line of the chunk (Poisson means). Together about 1.5 % of all rows are flagged dirty.
DIRT_RATES: dict[str, float] = {
    "cancellation": 0.0075,
    "duplicate": 0.0025,
    "stock_adjustment": 0.0015,
    "zero_price": 0.0010,
    "null_description": 0.0004,
    "postage": 0.0012,
    "dotcom_postage": 0.0006,
    "manual": 0.0005,
    "carriage": 0.00015,
    "discount": 0.0001,
    "bank_charges": 0.00005,
    "amazon_fee": 0.00004,
}
BAD_DEBT_TRIPLES_PER_LINE = 2e-6  # plus one triple in the first chunk so every run has negative prices
_CANCEL_LINES_MEAN = 1.9  # real C invoices have 1-3 lines (median 1, mean 2.35)
_LAST_MINUTE = 20 * 60 + 59
_K = {name: j for j, name in enumerate(KINDS)}
_UK = COUNTRY_NAMES.index("United Kingdom")
_EIRE = COUNTRY_NAMES.index("EIRE")


def code_table(catalog: Catalog) -> list[str]:
    """Stock codes by index: items, their lower-case variants, then the non-product codes."""
    codes = list(catalog.stock_code)
    return codes + [c.lower() for c in codes] + list(NON_PRODUCT)


def description_table(catalog: Catalog) -> list[str]:
    """Descriptions by index: items, non-product descriptions, then stock-adjustment notes."""
    return list(catalog.description) + list(NON_PRODUCT.values()) + list(STOCK_NOTES)


def _np_code(catalog: Catalog, code: str) -> int:
    return 2 * catalog.n + _NP[code]


def _np_desc(catalog: Catalog, code: str) -> int:
    return catalog.n + _NP[code]


def _rows(n: int, *, inv, prefix, code, desc, qty, minute, price, cust, country, seq, day, kind) -> Lines:
    full = lambda v, t: np.broadcast_to(np.asarray(v, dtype=t), (n,)).copy()  # noqa: E731
    return Lines(
        full(inv, np.int64),
        full(prefix, np.int8),
        full(code, np.int32),
        full(desc, np.int32),
        full(qty, np.int64),
        full(minute, np.int64),
        full(price, np.float64),
        full(cust, np.float64),
        full(country, np.int16),
        full(seq, np.float64),
        full(day, np.int64),
        full(kind, np.int8),
    )


def _extra_lines(rng, invoices: Invoices, pool: np.ndarray, n: int, **fields) -> Lines:
    """n extra lines appended to distinct invoices drawn from pool (indices into invoices)."""
    n = int(min(n, pool.size))
    chosen = rng.choice(pool, size=n, replace=False) if n else np.empty(0, dtype=np.int64)
    return _rows(
        n,
        inv=invoices.key[chosen],
        prefix=0,
        minute=invoices.minute[chosen],
        cust=invoices.cust[chosen],
        country=invoices.country[chosen],
        seq=1e15 + rng.random(n),
        day=invoices.day[chosen],
        **fields,
    )


def _cancellations(
    rng, lines: Lines, invoices: Invoices, open_days: np.ndarray, epoch0: int, next_key: int
) -> tuple[Lines, int]:
    """C invoices returning 1-3 lines of earlier known-customer invoices, same price, 0-10 open days later."""
    known = np.flatnonzero(~np.isnan(invoices.cust))
    if not known.size or not len(lines):
        return Lines.empty(), next_key
    target = rng.poisson(DIRT_RATES["cancellation"] * len(lines))
    n_inv = int(min(known.size, round(target / _CANCEL_LINES_MEAN)))
    chosen = np.sort(rng.choice(known, size=n_inv, replace=False))
    k = np.zeros(invoices.key.size, dtype=np.int64)
    k[chosen] = 1 + np.minimum(rng.poisson(_CANCEL_LINES_MEAN - 1, n_inv), 5)
    local = lines.inv - invoices.key[0]
    starts = np.r_[0, np.flatnonzero(np.diff(local)) + 1]
    rank = np.arange(len(lines)) - np.repeat(starts, np.diff(np.r_[starts, len(lines)]))
    pick = np.flatnonzero((rank < k[local]) & (lines.kind == _K["sale"]))
    src = lines.take(pick)
    src_local = local[pick]
    # Invoice-level delay and time, so all lines of one C invoice share them.
    pos = np.searchsorted(open_days, invoices.day[chosen])
    delay = np.where(rng.random(n_inv) < 0.4, 0, 1 + rng.poisson(3.0, n_inv))
    ok = pos + delay < open_days.size
    new_day = open_days[np.minimum(pos + delay, open_days.size - 1)]
    orig_min = invoices.minute[chosen] % 1440
    same_day = np.minimum(orig_min + 1 + rng.integers(0, 120, n_inv), _LAST_MINUTE)
    min_of_day = np.where(delay == 0, same_day, draw_minutes(rng, n_inv))
    new_minute = (epoch0 + new_day) * 1440 + min_of_day
    slot = np.full(invoices.key.size, -1, dtype=np.int64)
    slot[chosen] = np.arange(n_inv)
    s = slot[src_local]
    partial = rng.random(len(src)) < 0.3
    qty = np.where(partial, np.minimum(src.qty, 1 + (rng.random(len(src)) * src.qty).astype(np.int64)), src.qty)
    out = Lines(
        inv=next_key + s,
        prefix=np.ones(len(src), dtype=np.int8),
        code=src.code,
        desc=src.desc,
        qty=-qty,
        minute=new_minute[s],
        price=src.price,
        cust=src.cust,
        country=src.country,
        seq=src.seq,
        day=new_day[s],
        kind=np.full(len(src), _K["cancellation"], dtype=np.int8),
    )
    return out.take(np.flatnonzero(ok[s])), next_key + n_inv


def plant_dirt(
    rng: np.random.Generator,
    lines: Lines,
    invoices: Invoices,
    catalog: Catalog,
    *,
    next_key: int,
    open_days: np.ndarray,
    chunk_open_days: np.ndarray,
    epoch0: int,
    first_chunk: bool,
) -> tuple[Lines, Lines, int]:
    """Dirty rows for one chunk: (rows dated inside the chunk, cancellation rows dated later, next key)."""
    m = len(lines)
    parts: list[Lines] = []
    pois = lambda name: int(rng.poisson(DIRT_RATES[name] * m))  # noqa: E731

    # Exact duplicates: only of clean known-customer sale lines, so no other flag count depends on them.
    clean = np.flatnonzero((lines.kind == _K["sale"]) & ~np.isnan(lines.cust))
    n_dup = min(pois("duplicate"), clean.size)
    dup = lines.take(np.sort(rng.choice(clean, size=n_dup, replace=False)))
    dup.seq = dup.seq + 0.5
    dup.kind[:] = _K["duplicate"]
    parts.append(dup)

    all_inv = np.arange(invoices.key.size)
    known = np.flatnonzero(~np.isnan(invoices.cust))
    guest = np.flatnonzero(np.isnan(invoices.cust))
    abroad = np.flatnonzero(~np.isnan(invoices.cust) & (invoices.country != _UK))
    eire = np.flatnonzero(invoices.country == _EIRE)
    # Free items on real invoices (price 0, positive quantity).
    n = pois("zero_price")
    item = rng.choice(catalog.n, size=n, p=catalog.popularity)
    parts.append(
        _extra_lines(
            rng,
            invoices,
            all_inv,
            n,
            code=item,
            desc=item,
            qty=1 + rng.integers(0, 12, n),
            price=0.0,
            kind=_K["zero_price"],
        )
    )
    # Postage on foreign customers' invoices, dotcom postage on guest orders, manual lines, carriage to EIRE.
    n = pois("postage")
    parts.append(
        _extra_lines(
            rng,
            invoices,
            abroad if abroad.size else known,
            n,
            code=_np_code(catalog, "POST"),
            desc=_np_desc(catalog, "POST"),
            qty=1 + rng.poisson(0.5, n),
            price=rng.choice([18.0, 15.0, 28.0, 40.0], size=n),
            kind=_K["non_product"],
        )
    )
    n = pois("dotcom_postage")
    parts.append(
        _extra_lines(
            rng,
            invoices,
            guest,
            n,
            code=_np_code(catalog, "DOT"),
            desc=_np_desc(catalog, "DOT"),
            qty=1,
            price=np.round(rng.lognormal(5.2, 0.6, n), 2),
            kind=_K["non_product"],
        )
    )
    n = pois("manual")
    parts.append(
        _extra_lines(
            rng,
            invoices,
            all_inv,
            n,
            code=_np_code(catalog, "M"),
            desc=_np_desc(catalog, "M"),
            qty=1 + rng.poisson(0.3, n),
            price=np.maximum(np.round(rng.lognormal(1.5, 1.5, n), 2), 0.01),
            kind=_K["non_product"],
        )
    )
    n = pois("carriage")
    parts.append(
        _extra_lines(
            rng,
            invoices,
            eire if eire.size else known,
            n,
            code=_np_code(catalog, "C2"),
            desc=_np_desc(catalog, "C2"),
            qty=1,
            price=50.0,
            kind=_K["non_product"],
        )
    )

    # Single-line invoices on open days of the chunk.
    def single(count: int, prefix: int, code, desc, qty, price, cust, country, kind: str) -> None:
        nonlocal next_key
        if not count or not chunk_open_days.size:
            return
        day = rng.choice(chunk_open_days, size=count)
        minute = (epoch0 + day) * 1440 + draw_minutes(rng, count)
        parts.append(
            _rows(
                count,
                inv=next_key + np.arange(count),
                prefix=prefix,
                code=code,
                desc=desc,
                qty=qty,
                minute=minute,
                price=price,
                cust=cust,
                country=country,
                seq=0.0,
                day=day,
                kind=_K[kind],
            )
        )
        next_key += count

    def known_cust(count: int) -> tuple[np.ndarray, np.ndarray]:
        if not known.size:
            return np.full(count, np.nan), np.full(count, _UK)
        idx = rng.choice(known, size=count)
        return invoices.cust[idx], invoices.country[idx]

    n = pois("stock_adjustment")
    item = rng.choice(catalog.n, size=n, p=catalog.popularity)
    note = np.where(rng.random(n) < 0.2, -1, catalog.n + len(NON_PRODUCT) + rng.integers(0, len(STOCK_NOTES), n))
    single(n, 0, item, note, -(1 + rng.geometric(0.08, n)), 0.0, np.nan, _UK, "stock_adjustment")
    n = pois("null_description")
    item = rng.choice(catalog.n, size=n)
    single(n, 0, item, -1, 1 + rng.geometric(0.05, n), 0.0, np.nan, _UK, "null_description")
    n = pois("bank_charges")
    cust, country = known_cust(n)
    single(
        n,
        0,
        _np_code(catalog, "BANK CHARGES"),
        _np_desc(catalog, "BANK CHARGES"),
        1,
        15.0,
        cust,
        country,
        "non_product",
    )
    n = pois("discount") + int(first_chunk)  # at least one, so every run has non-return C rows
    cust, country = known_cust(n)
    single(
        n,
        1,
        _np_code(catalog, "D"),
        _np_desc(catalog, "D"),
        -1,
        np.round(rng.uniform(5, 50, n), 2),
        cust,
        country,
        "non_product_cancellation",
    )
    n = pois("amazon_fee")
    neg = rng.random(n) < 0.5
    single(
        n,
        np.where(neg, 1, 0),
        _np_code(catalog, "AMAZONFEE"),
        _np_desc(catalog, "AMAZONFEE"),
        np.where(neg, -1, 1),
        np.round(rng.lognormal(8.5, 0.6, n), 2),
        np.nan,
        _UK,
        "non_product_cancellation",
    )
    # "Adjust bad debt": three A invoices a minute apart, +x, -x, -x (as A563185-A563187 in the real file).
    triples = int(rng.poisson(BAD_DEBT_TRIPLES_PER_LINE * m)) + int(first_chunk)
    if triples and chunk_open_days.size:
        day = np.repeat(rng.choice(chunk_open_days, size=triples), 3)
        minute = (epoch0 + day) * 1440 + np.repeat(np.minimum(draw_minutes(rng, triples), _LAST_MINUTE - 2), 3)
        minute = minute + np.tile([0, 1, 2], triples)
        amount = np.repeat(np.round(rng.lognormal(7.5, 1.0, triples), 2), 3) * np.tile([1.0, -1.0, -1.0], triples)
        parts.append(
            _rows(
                3 * triples,
                inv=next_key + np.arange(3 * triples),
                prefix=2,
                code=_np_code(catalog, "B"),
                desc=_np_desc(catalog, "B"),
                qty=1,
                minute=minute,
                price=amount,
                cust=np.nan,
                country=_UK,
                seq=0.0,
                day=day,
                kind=_K["bad_debt"],
            )
        )
        next_key += 3 * triples

    cancel, next_key = _cancellations(rng, lines, invoices, open_days, epoch0, next_key)
    return concat_lines(parts), cancel, next_key
