"""Synthetic shop generator: Online Retail II-shaped transactions, clickstream and product text.

``generate(out_dir, ...)`` streams ``transactions.parquet`` and ``events.parquet`` in chunks of days (one
parquet row group per chunk), writes ``product_text.parquet`` and ``manifest.json`` (a
:class:`GenerationManifest` listing every planted effect and the counts the cleaning rules must produce).
Same seed and parameters -> byte-identical
parquet files. docs/generator.md documents each effect and how to assert it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trendcast.generation.catalog import (
    CATEGORIES,
    CATEGORY_SEASONALITY,
    ELASTICITY,
    TREND_DOWN_FACTOR,
    TREND_UP_FACTOR,
    build_catalog,
)
from trendcast.generation.counts import CountAccumulator, expected_counts
from trendcast.generation.customers import COUNTRY_NAMES, GUEST_INVOICE_SHARE, SEGMENTS, build_customers
from trendcast.generation.dirt import DIRT_RATES, code_table, description_table, plant_dirt
from trendcast.generation.events import EVENT_INVOICE_SHARE, EVENT_TYPES, QUERIES, Events, session_events
from trendcast.generation.manifest import (
    Anomaly,
    DatedItem,
    FileInfo,
    GenerationManifest,
    GenerationParams,
    Holiday,
    ItemInfo,
    Planted,
    PriceChange,
)
from trendcast.generation.product_text import PRODUCT_TEXT_SCHEMA, REVIEW_RATING_MODEL, product_text_table
from trendcast.generation.shop_calendar import (
    DECEMBER_RAMP,
    DECEMBER_RAMP_DAYS,
    DOW_MULTIPLIERS,
    YEARLY_AMPLITUDE,
    YEARLY_PEAK_DAY_OF_YEAR,
    calendar_frame,
)
from trendcast.generation.transactions import (
    AFFINITY_SHARE,
    Lines,
    basket_keep_share,
    concat_lines,
    mean_invoice_lines,
    sale_lines,
)

__all__ = [
    "GenerationManifest",
    "TRANSACTIONS_SCHEMA",
    "EVENTS_SCHEMA",
    "PRODUCT_TEXT_SCHEMA",
    "DIRT_ROWS_PER_SALE_LINE",
    "SHOP_SPIKE_FACTOR",
    "SHOP_DROP_FACTOR",
    "expected_counts",
    "generate",
    "lines_per_day_for",
]

log = logging.getLogger(__name__)

TRANSACTIONS_SCHEMA = pa.schema(
    [
        ("Invoice", pa.string()),
        ("StockCode", pa.string()),
        ("Description", pa.string()),
        ("Quantity", pa.int64()),
        ("InvoiceDate", pa.timestamp("us")),
        ("Price", pa.float64()),
        ("Customer ID", pa.float64()),
        ("Country", pa.string()),
    ]
)
EVENTS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.float64()),
        ("session_id", pa.string()),
        ("stock_code", pa.string()),
        ("category", pa.string()),
        ("event_type", pa.string()),
        ("search_query", pa.string()),
        ("event_time", pa.timestamp("us")),
    ]
)
# Dirty rows added per sale line (Poisson means of dirt.DIRT_RATES; bad-debt triples are negligible).
DIRT_ROWS_PER_SALE_LINE = float(sum(DIRT_RATES.values()))
SHOP_SPIKE_FACTOR = 3.0
SHOP_DROP_FACTOR = 0.2
_FIRST_INVOICE = 489434  # the real file's first invoice number
_COMPRESSION = "zstd"


def lines_per_day_for(n_lines: int, days: int, keep_share: float = 1.0) -> float:
    """``lines_per_day`` that makes ``generate`` write about ``n_lines`` transaction rows over ``days``.

    ``keep_share`` is the share of drawn basket lines left after merging repeated items in one basket
    (``generate(n_lines=...)`` computes it from the catalogue: ~0.95 for 300 items, ~0.5 for 40).
    """
    if n_lines <= 0 or days <= 0:
        raise ValueError("n_lines and days must be positive")
    return n_lines / days / (keep_share * (1.0 + DIRT_ROWS_PER_SALE_LINE))


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _shop_anomalies(rng: np.random.Generator, cal, days: int, avoid: list[int]) -> np.ndarray:
    """Shop-wide anomaly factor per day: a few x3 spikes and x0.2 drops on ordinary open days.

    ``avoid``: day offsets of item spikes, kept apart so each planted anomaly is measurable on its own.
    """
    ordinary = np.flatnonzero(
        cal["is_open"].to_numpy()
        & (cal["holiday"].to_numpy() == "")
        & (cal["date"].dt.month.to_numpy() != 12)
        & ~np.isin(np.arange(days), avoid)
    )
    factor = np.ones(days)
    n_each = max(1, days // 240)
    if ordinary.size >= 2 * n_each:
        chosen = rng.choice(ordinary, size=2 * n_each, replace=False)
        factor[chosen[:n_each]] = SHOP_SPIKE_FACTOR
        factor[chosen[n_each:]] = SHOP_DROP_FACTOR
    return factor


def _number_invoices(lines: Lines, next_number: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Invoice numbers increasing with invoice time; returns (row order, number per row, next number)."""
    keys, first = np.unique(lines.inv, return_index=True)
    order = np.lexsort((keys, lines.minute[first]))
    rank = np.empty(keys.size, dtype=np.int64)
    rank[order] = np.arange(keys.size)
    number = next_number + rank[np.searchsorted(keys, lines.inv)]
    rows = np.lexsort((lines.seq, number))
    return rows, number[rows], next_number + keys.size


def _transactions_table(
    lines: Lines, number: np.ndarray, codes: pa.Array, descs: pa.Array, countries: pa.Array
) -> pa.Table:
    prefix = pa.array(["", "C", "A"]).take(pa.array(lines.prefix))
    invoice = pc.binary_join_element_wise(prefix, pc.cast(pa.array(number), pa.string()), "")
    desc = descs.take(pa.array(lines.desc, mask=lines.desc < 0))
    return pa.table(
        [
            invoice,
            codes.take(pa.array(lines.code)),
            desc,
            pa.array(lines.qty, pa.int64()),
            pa.array(lines.minute * 60_000_000, pa.timestamp("us")),
            pa.array(lines.price, pa.float64()),
            pa.array(lines.cust, pa.float64(), from_pandas=True),
            countries.take(pa.array(lines.country)),
        ],
        schema=TRANSACTIONS_SCHEMA,
    )


def _events_table(ev: Events, stock_codes: pa.Array) -> pa.Table:
    session = pc.binary_join_element_wise("S", pc.cast(pa.array(ev.session), pa.string()), "")
    return pa.table(
        [
            pa.array(ev.cust, pa.float64(), from_pandas=True),
            session,
            stock_codes.take(pa.array(ev.item, mask=ev.item < 0)),
            pa.array(list(CATEGORIES)).take(pa.array(ev.category, mask=ev.category < 0)),
            pa.array(list(EVENT_TYPES)).take(pa.array(ev.etype)),
            pa.array(list(QUERIES)).take(pa.array(ev.query, mask=ev.query < 0)),
            pa.array(ev.time_us, pa.timestamp("us")),
        ],
        schema=EVENTS_SCHEMA,
    )


def _file_info(path: Path) -> FileInfo:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    meta = pq.ParquetFile(path).metadata
    return FileInfo(
        rows=meta.num_rows,
        bytes=path.stat().st_size,
        sha256=digest.hexdigest(),
        row_groups=meta.num_row_groups,
    )


def generate(
    out_dir: Path,
    *,
    seed: int = 42,
    n_items: int = 300,
    n_customers: int = 1500,
    start: date = date(2023, 1, 2),
    days: int = 730,
    lines_per_day: float = 250.0,
    chunk_days: int = 30,
    events: bool = True,
    product_text: bool = True,
    progress: Callable[[int, int], None] | None = None,
    n_lines: int | None = None,
    event_invoice_share: float = EVENT_INVOICE_SHARE,
) -> GenerationManifest:
    """Write a synthetic shop to ``out_dir`` and return (and write) its manifest.

    Args:
        out_dir: folder for ``transactions.parquet``, ``events.parquet``, ``product_text.parquet``,
            ``manifest.json`` (created; existing files are overwritten).
        seed: random seed; same seed and arguments give byte-identical parquet files.
        n_items, n_customers: catalogue size (>= 10) and customer count (>= 20, 5-digit ids).
        start, days: first calendar day and number of days (>= 14).
        lines_per_day: expected item picks per calendar day (mean over all days, closed ones included).
        chunk_days: days generated and written per parquet row group (memory scales with it).
        events, product_text: also write the clickstream / the product text.
        progress: called as ``progress(days_done, days)`` after each chunk.
        n_lines: approximate number of transaction rows wanted; overrides ``lines_per_day``.
        event_invoice_share: share of sale invoices that come with an online session.
    """
    if days < 14 or chunk_days < 1:
        raise ValueError(f"days must be >= 14 and chunk_days >= 1, got days={days}, chunk_days={chunk_days}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cal = calendar_frame(start, days)
    open_days = np.flatnonzero(cal["is_open"].to_numpy())
    ordinary_days = np.flatnonzero(cal["is_open"].to_numpy() & (cal["holiday"].to_numpy() == ""))
    catalog = build_catalog(_stream(seed, 1), n_items, days, open_days, ordinary_days)
    customers = build_customers(_stream(seed, 2), n_customers, days)
    if n_lines is not None:
        keep = basket_keep_share(catalog.popularity, mean_invoice_lines(n_items), _stream(seed, 5))
        lines_per_day = lines_per_day_for(n_lines, days, keep)
    shop_factor = _shop_anomalies(_stream(seed, 3), cal, days, [d for d, _, _ in catalog.item_spikes])
    expected_lines = lines_per_day * cal["multiplier"].to_numpy() * shop_factor
    doy = cal["date"].dt.dayofyear.to_numpy()
    epoch0 = int((np.datetime64(start, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64))
    codes = pa.array(code_table(catalog), pa.string())
    descs = pa.array(description_table(catalog), pa.string())
    countries = pa.array(list(COUNTRY_NAMES), pa.string())
    item_codes = pa.array(list(catalog.stock_code), pa.string())
    est_invoices = lines_per_day * days / (mean_invoice_lines(n_items) * 0.8) * 1.05
    next_number = _FIRST_INVOICE if _FIRST_INVOICE + est_invoices < 999_999 else 100_000

    for name, wanted in (("events.parquet", events), ("product_text.parquet", product_text)):
        if not wanted:  # a file left from an earlier run would not match this manifest
            (out_dir / name).unlink(missing_ok=True)
    acc = CountAccumulator()
    pending = Lines.empty()
    next_key, next_session = 0, 0
    tx_path, ev_path = out_dir / "transactions.parquet", out_dir / "events.parquet"
    tx_writer = pq.ParquetWriter(tx_path, TRANSACTIONS_SCHEMA, compression=_COMPRESSION)
    ev_writer = pq.ParquetWriter(ev_path, EVENTS_SCHEMA, compression=_COMPRESSION) if events else None
    try:
        for c, lo in enumerate(range(0, days, chunk_days)):
            hi = min(days, lo + chunk_days)
            day = np.arange(lo, hi)
            rng = _stream(seed, 10, c)
            sale, invoices = sale_lines(
                rng,
                catalog,
                customers,
                day=day,
                epoch_day=epoch0 + day,
                doy=doy[lo:hi],
                expected_lines=expected_lines[lo:hi],
                days_total=days,
                first_invoice_key=next_key,
            )
            next_key += invoices.key.size
            dirt, cancel, next_key = plant_dirt(
                rng,
                sale,
                invoices,
                catalog,
                next_key=next_key,
                open_days=open_days,
                chunk_open_days=open_days[(open_days >= lo) & (open_days < hi)],
                epoch0=epoch0,
                first_chunk=c == 0,
            )
            pending = concat_lines([pending, cancel])
            due = pending.day < hi
            rows = concat_lines([sale, dirt, pending.take(np.flatnonzero(due))])
            pending = pending.take(np.flatnonzero(~due))
            order, number, next_number = _number_invoices(rows, next_number)
            table = _transactions_table(rows.take(order), number, codes, descs, countries)
            tx_writer.write_table(table, row_group_size=max(1, table.num_rows))
            acc.add(table.to_pandas())
            if ev_writer is not None:
                ev, next_session = session_events(
                    _stream(seed, 11, c),
                    sale,
                    invoices,
                    catalog,
                    next_session=next_session,
                    share=event_invoice_share,
                    start_minute=epoch0 * 1440,
                )
                ev_table = _events_table(ev, item_codes)
                ev_writer.write_table(ev_table, row_group_size=max(1, ev_table.num_rows))
            log.debug("chunk %d: days %d-%d, %d rows", c, lo, hi - 1, table.num_rows)
            if progress is not None:
                progress(hi, days)
    finally:
        tx_writer.close()
        if ev_writer is not None:
            ev_writer.close()
    files = {"transactions.parquet": _file_info(tx_path)}
    if ev_writer is not None:
        files["events.parquet"] = _file_info(ev_path)
    if product_text:
        text_path = out_dir / "product_text.parquet"
        pq.write_table(product_text_table(_stream(seed, 4), catalog, start, days), text_path, compression=_COMPRESSION)
        files["product_text.parquet"] = _file_info(text_path)

    expected = acc.result()
    cutoff = acc.cutoff if acc.cutoff is not None else np.datetime64(start + timedelta(days=days - 1), "D")
    active = acc.customers_active_since(np.datetime64(cutoff, "D") - np.timedelta64(29, "D"))
    manifest = GenerationManifest(
        params=GenerationParams(
            seed=seed,
            n_items=n_items,
            n_customers=n_customers,
            start=start,
            end=start + timedelta(days=days - 1),
            days=days,
            lines_per_day=lines_per_day,
            chunk_days=chunk_days,
            events=events,
            product_text=product_text,
            event_invoice_share=event_invoice_share,
        ),
        files=files,
        planted=_planted(cal, catalog, customers, shop_factor, start, days, active),
        expected=expected,
        timings={"total_s": round(time.perf_counter() - started, 2)},
    )
    manifest.write(out_dir / "manifest.json")
    log.info(
        "generated %s transaction rows, %s events in %.1f s into %s",
        f"{expected['raw_rows']:,}",
        f"{files['events.parquet'].rows:,}" if events else 0,
        manifest.timings["total_s"],
        out_dir,
    )
    return manifest


def _planted(cal, catalog, customers, shop_factor, start: date, days: int, active: list[int]) -> Planted:
    day_date = lambda d: start + timedelta(days=int(d))  # noqa: E731
    code = catalog.stock_code
    holidays = cal[cal["holiday"] != ""]
    seg_names = list(SEGMENTS)
    lapsed = np.flatnonzero(customers.segment == seg_names.index("lapsed"))
    anomalies = [Anomaly(date=day_date(d), factor=float(shop_factor[d])) for d in np.flatnonzero(shop_factor != 1)]
    return Planted(
        dow_multipliers=list(DOW_MULTIPLIERS),
        yearly_amplitude=YEARLY_AMPLITUDE,
        yearly_peak_day_of_year=YEARLY_PEAK_DAY_OF_YEAR,
        december_ramp=DECEMBER_RAMP,
        december_ramp_days=DECEMBER_RAMP_DAYS,
        shutdown_dates=[d.date() for d in cal.loc[cal["closed_reason"] == "christmas shutdown", "date"]],
        bank_holidays=[
            Holiday(date=r.date.date(), name=r.holiday, factor=float(r.holiday_mult)) for r in holidays.itertuples()
        ],
        closed_dates=[d.date() for d in cal.loc[~cal["is_open"], "date"]],
        category_seasonality=CATEGORY_SEASONALITY,
        elasticity=ELASTICITY,
        price_changes=[
            PriceChange(
                stock_code=code[i],
                date=day_date(catalog.price_change_day[i]),
                old_price=float(catalog.base_price[i]),
                new_price=float(catalog.new_price[i]),
            )
            for i in np.flatnonzero(catalog.price_change_day >= 0)
        ],
        trend_start=day_date(catalog.trend_start_day),
        trend_end=day_date(days - 1),
        trend_up_factor=TREND_UP_FACTOR,
        trend_down_factor=TREND_DOWN_FACTOR,
        trending_up=[code[i] for i in np.flatnonzero(catalog.trend > 0)],
        trending_down=[code[i] for i in np.flatnonzero(catalog.trend < 0)],
        launches=[
            DatedItem(stock_code=code[i], date=day_date(catalog.launch_day[i]))
            for i in np.flatnonzero(catalog.launch_day > 0)
        ],
        discontinuations=[
            DatedItem(stock_code=code[i], date=day_date(catalog.discontinue_day[i]))
            for i in np.flatnonzero(catalog.discontinue_day < days)
        ],
        shop_anomalies=anomalies,
        item_anomalies=[Anomaly(date=day_date(d), factor=f, stock_code=code[i]) for d, i, f in catalog.item_spikes],
        segments={name: customers.customer_id[customers.segment == j].tolist() for j, name in enumerate(seg_names)},
        lapsed_after={str(customers.customer_id[i]): day_date(customers.active_until[i]) for i in lapsed},
        affinity_groups=[[code[i] for i in g] for g in catalog.affinity_groups],
        affinity_share=AFFINITY_SHARE,
        active_last_30_days=active,
        guest_invoice_share=GUEST_INVOICE_SHARE,
        dirt_rates=DIRT_RATES,
        review_rating_model=REVIEW_RATING_MODEL,
        items=[
            ItemInfo(
                stock_code=code[i],
                description=catalog.clean_description[i],
                category=CATEGORIES[catalog.category[i]],
                base_price=float(catalog.base_price[i]),
                pack_size=int(catalog.pack[i]),
                quality=round(float(catalog.quality[i]), 4),
                popularity=float(catalog.popularity[i]),
            )
            for i in range(catalog.n)
        ],
    )
