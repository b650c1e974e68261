"""The synthetic shop generator: determinism, contracts, dirt, expected counts and every planted effect."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trendcast.generate import GenerationManifest, expected_counts, generate, lines_per_day_for
from trendcast.generation.shop_calendar import calendar_frame

SMALL = dict(seed=7, n_items=40, n_customers=200, start=date(2023, 4, 3), days=60, lines_per_day=250.0, chunk_days=14)
SEASON = dict(seed=11, n_items=200, n_customers=400, start=date(2023, 10, 2), days=120, lines_per_day=300.0)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationManifest]:
    out = tmp_path_factory.mktemp("small")
    return out, generate(out, **SMALL)


@pytest.fixture(scope="module")
def tx(small) -> pd.DataFrame:
    return pd.read_parquet(small[0] / "transactions.parquet")


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, GenerationManifest]:
    out = tmp_path_factory.mktemp("season")
    manifest = generate(out, events=False, product_text=False, **SEASON)
    return pd.read_parquet(out / "transactions.parquet"), manifest


def _sales(frame: pd.DataFrame) -> pd.DataFrame:
    """Sale lines by the CONTRACTS rules (test-local, deliberately not the generator's code)."""
    product = frame["StockCode"].str.fullmatch(r"[0-9]{5}[A-Za-z]{0,2}")
    dup = frame.duplicated(keep="first")
    inv = frame["Invoice"]
    ok = (
        ~dup
        & ~inv.str.startswith("C")
        & ~inv.str.startswith("A")
        & product
        & (frame["Quantity"] > 0)
        & (frame["Price"] > 0)
    )
    out = frame[ok].copy()
    out["item"] = out["StockCode"].str.strip().str.upper()
    out["day"] = out["InvoiceDate"].dt.normalize()
    return out


def _daily_lines(frame: pd.DataFrame, start: date, days: int) -> pd.Series:
    idx = pd.date_range(pd.Timestamp(start), periods=days, freq="D")
    return _sales(frame).groupby("day").size().reindex(idx, fill_value=0)


# --- files, schema, determinism ---


def test_same_seed_gives_byte_identical_files_and_other_seed_differs(tmp_path: Path) -> None:
    args = dict(n_items=15, n_customers=40, start=date(2023, 3, 6), days=21, lines_per_day=80.0, chunk_days=7)
    calls: list[tuple[int, int]] = []
    a = generate(tmp_path / "a", seed=1, progress=lambda done, total: calls.append((done, total)), **args)
    b, c = (generate(tmp_path / name, seed=seed, **args) for name, seed in (("b", 1), ("c", 2)))
    assert calls == [(7, 21), (14, 21), (21, 21)]
    for name in ("transactions.parquet", "events.parquet", "product_text.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
        assert a.files[name].sha256 == b.files[name].sha256
    assert a.expected == b.expected
    assert a.files["transactions.parquet"].sha256 != c.files["transactions.parquet"].sha256


def test_schemas_are_exactly_the_contract(small) -> None:
    out, manifest = small
    assert pq.read_schema(out / "transactions.parquet") == pa.schema(
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
    assert pq.read_schema(out / "events.parquet") == pa.schema(
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
    text_schema = pq.read_schema(out / "product_text.parquet")
    assert text_schema.names == ["stock_code", "kind", "text", "category", "rating", "written_at"]
    assert pa.types.is_integer(text_schema.field("rating").type)
    assert text_schema.field("written_at").type == pa.timestamp("us")
    # Streamed: one row group per chunk of days.
    assert manifest.files["transactions.parquet"].row_groups == -(-SMALL["days"] // SMALL["chunk_days"])


def test_online_retail_shape(tx: pd.DataFrame, small) -> None:
    assert tx["Invoice"].str.fullmatch(r"[CA]?\d{6}").all()
    odd = set(tx.loc[~tx["StockCode"].str.fullmatch(r"\d{5}[A-Za-z]?"), "StockCode"])
    assert odd <= {"POST", "DOT", "M", "C2", "D", "BANK CHARGES", "AMAZONFEE", "B"}
    numbers = tx["Invoice"].str.lstrip("CA").astype(int)
    first_time = tx.assign(n=numbers).groupby("n")["InvoiceDate"].min().sort_index()
    assert first_time.is_monotonic_increasing  # invoice numbers increase with time
    assert tx.groupby("Invoice")["InvoiceDate"].nunique().max() == 1
    hours = tx["InvoiceDate"].dt.hour
    assert hours.between(7, 20).all()
    assert (tx["Price"].round(2) == tx["Price"]).all()
    ids = tx["Customer ID"].dropna()
    assert ((ids >= 10000) & (ids <= 99999) & (ids == ids.round())).all()
    countries = tx.drop_duplicates("Invoice")["Country"].value_counts(normalize=True)
    assert countries.index[0] == "United Kingdom" and countries.iloc[0] > 0.8
    sales = _sales(tx)
    assert sales["Description"].str.strip().eq(sales["Description"].str.strip().str.upper()).all()
    assert sales.groupby("Invoice").size().median() >= 2


# --- dirt and expected counts ---


def test_dirty_share_between_one_and_two_percent_with_every_kind(small) -> None:
    e = small[1].expected
    assert 0.01 <= e["dirty_rows"] / e["raw_rows"] <= 0.02
    for key in (
        "duplicate_rows",
        "cancellation_rows",
        "return_rows",
        "stock_adjustment_rows",
        "non_product_rows",
        "zero_price_rows",
        "negative_price_rows",
        "adjustment_rows",
        "missing_customer_rows",
    ):
        assert e[key] > 0, key
    assert 0.12 <= e["guest_invoices"] / e["invoices"] <= 0.25
    assert e["cancellation_rows"] > e["return_rows"]  # C-invoice discounts / fees are cancellations, not returns


def test_dirty_rows_look_like_the_real_quirks(tx: pd.DataFrame) -> None:
    stock_adj = tx[(tx["Quantity"] < 0) & ~tx["Invoice"].str.startswith("C")]
    assert (stock_adj["Price"] == 0).all() and stock_adj["Customer ID"].isna().all()
    notes = stock_adj["Description"].dropna()
    assert not notes.isin(tx.loc[tx["Price"] > 0, "Description"]).any()  # write-off notes, not product names
    assert (notes == notes.str.lower()).mean() > 0.6
    neg = tx[tx["Price"] < 0]
    assert neg["Invoice"].str.startswith("A").all() and (neg["StockCode"] == "B").all()
    assert {"POST", "DOT", "M"} <= set(tx["StockCode"])
    returns = tx[tx["Invoice"].str.startswith("C") & (tx["Price"] > 0)]
    assert (returns["Quantity"] < 0).all()


def test_cancellations_return_earlier_purchases(tx: pd.DataFrame) -> None:
    sales = _sales(tx)
    returns = tx[tx["Invoice"].str.startswith("C") & tx["StockCode"].str.fullmatch(r"\d{5}[A-Za-z]?")]
    merged = returns.merge(sales, on=["Customer ID", "StockCode", "Price"], suffixes=("", "_sale"))
    merged = merged[
        (merged["InvoiceDate_sale"] <= merged["InvoiceDate"]) & (merged["Quantity_sale"] >= -merged["Quantity"])
    ]
    matched = merged.drop_duplicates(["Invoice", "StockCode"])
    assert len(matched) == len(returns.drop_duplicates(["Invoice", "StockCode"]))


_SQL = """
with f as (
  select *,
    row_number() over (partition by "Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
                       "Customer ID", "Country" order by file_row_number) > 1 as dup,
    starts_with("Invoice", 'C') as canc, starts_with("Invoice", 'A') as adj,
    not regexp_full_match("StockCode", '[0-9]{5}[A-Za-z]{0,2}') as np
  from read_parquet($path, file_row_number = true)
), g as (
  select *, not dup and not canc and not adj and not np and "Quantity" > 0 and "Price" > 0 as sale,
         not dup and canc and not np and "Quantity" < 0 and "Price" > 0 as ret
  from f
), s as (select upper(trim("StockCode")) as item, cast("InvoiceDate" as date) as d, * from g where sale),
firsts as (select item, min(d) as fd from s group by item)
select
  (select count(*) from g) as raw_rows,
  (select count(*) from g where dup) as duplicate_rows,
  (select count(*) from g where not dup and canc) as cancellation_rows,
  (select count(*) from g where ret) as return_rows,
  (select count(*) from g where not dup and "Quantity" < 0 and not canc) as stock_adjustment_rows,
  (select count(*) from g where not dup and np) as non_product_rows,
  (select count(*) from g where not dup and "Price" = 0) as zero_price_rows,
  (select count(*) from g where not dup and "Price" < 0) as negative_price_rows,
  (select count(*) from g where not dup and "Customer ID" is null) as missing_customer_rows,
  (select count(*) from s) as sale_lines,
  (select count(distinct item) from s) as items_with_sales,
  (select sum(date_diff('day', fd, (select max(d) from s)) + 1) from firsts) as item_days_zero_filled,
  (select sum("Quantity") from s) as units_sold_total,
  (select -sum("Quantity") from g where ret) as units_returned_total,
  (select sum("Quantity" * "Price") from g where sale or ret) as revenue_net_total,
  (select count(distinct "Customer ID") from s) as customers_with_sales
"""


def test_expected_counts_equal_an_independent_sql_recomputation(small, tx: pd.DataFrame) -> None:
    out, manifest = small
    with duckdb.connect() as con:
        row = con.execute(_SQL, {"path": str(out / "transactions.parquet")}).fetchdf().iloc[0].to_dict()
    for key, value in row.items():
        if key == "revenue_net_total":
            assert manifest.expected[key] == pytest.approx(float(value), abs=0.011), key
        else:
            assert manifest.expected[key] == int(value), key
    # The reference implementation gives the same on the file read back.
    again = expected_counts(tx)
    assert {k: again[k] for k in row} == {k: manifest.expected[k] for k in row}


def test_manifest_round_trips_and_lists_effects(small) -> None:
    out, manifest = small
    loaded = GenerationManifest.load(out / "manifest.json")
    assert loaded == manifest
    assert GenerationManifest.load(out) == manifest
    raw = json.loads((out / "manifest.json").read_text())
    for key in (
        "trending_up",
        "trending_down",
        "price_changes",
        "launches",
        "discontinuations",
        "shop_anomalies",
        "item_anomalies",
        "segments",
        "affinity_groups",
        "active_last_30_days",
        "bank_holidays",
    ):
        assert raw["planted"][key], key
    assert loaded.expected["raw_rows"] == manifest.files["transactions.parquet"].rows


def test_n_lines_hits_the_requested_size(tmp_path: Path) -> None:
    (tmp_path / "events.parquet").write_bytes(b"stale")
    m = generate(tmp_path, n_lines=30_000, n_items=60, n_customers=100, days=40, events=False, product_text=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "transactions.parquet"]
    assert m.expected["raw_rows"] == pytest.approx(30_000, rel=0.08)
    assert lines_per_day_for(73_000, 730) == pytest.approx(100 / 1.0155, rel=0.01)


# --- planted calendar effects ---


def test_closed_days_have_no_rows(tx: pd.DataFrame, small) -> None:
    _, manifest = small
    days = set(tx["InvoiceDate"].dt.date)
    assert not any(d.weekday() == 5 for d in days)
    assert not days & set(manifest.planted.closed_dates)
    closed = {h.date for h in manifest.planted.bank_holidays if h.factor == 0}
    assert date(2023, 4, 7) in closed and date(2023, 4, 10) in closed  # Good Friday, Easter Monday 2023
    assert not days & closed


def test_weekly_pattern_and_reduced_bank_holidays(tx: pd.DataFrame, small) -> None:
    _, manifest = small
    daily = _daily_lines(tx, SMALL["start"], SMALL["days"])
    cal = calendar_frame(SMALL["start"], SMALL["days"]).set_index(pd.DatetimeIndex(daily.index))
    anomalous = {pd.Timestamp(a.date) for a in manifest.planted.shop_anomalies}
    ordinary = cal["is_open"] & (cal["holiday"] == "") & ~cal.index.isin(anomalous)
    by_dow = daily[ordinary].groupby(cal.index[ordinary].dayofweek).mean()
    expected = np.asarray(manifest.planted.dow_multipliers)
    ratio = by_dow / by_dow[0]
    for dow, value in ratio.items():
        assert value == pytest.approx(expected[dow] / expected[0], rel=0.15), dow
    reduced = [h for h in manifest.planted.bank_holidays if 0 < h.factor < 1]
    assert {h.date for h in reduced} >= {date(2023, 5, 1), date(2023, 5, 8), date(2023, 5, 29)}
    obs = np.mean([daily[pd.Timestamp(h.date)] for h in reduced])
    assert obs / by_dow[0] == pytest.approx(reduced[0].factor, abs=0.12)


def test_december_peak_matches_the_planted_ramp(season) -> None:
    tx, manifest = season
    daily = _daily_lines(tx, SEASON["start"], SEASON["days"])
    cal = calendar_frame(SEASON["start"], SEASON["days"]).set_index(pd.DatetimeIndex(daily.index))
    anomalous = cal.index.isin([pd.Timestamp(a.date) for a in manifest.planted.shop_anomalies])
    usable = cal["is_open"] & ~anomalous
    dec = usable & (cal.index.month == 12)
    other = usable & cal.index.month.isin([10, 11])
    observed = daily[dec].mean() / daily[other].mean()
    planted = cal.loc[dec, "multiplier"].mean() / cal.loc[other, "multiplier"].mean()
    assert planted > 1.4
    assert observed == pytest.approx(planted, rel=0.12)
    assert not (tx["InvoiceDate"].dt.date.isin(manifest.planted.shutdown_dates)).any()
    assert {date(2023, 12, 24), date(2024, 1, 3)} <= set(manifest.planted.shutdown_dates)


def test_shop_and_item_anomalies_are_visible(tx: pd.DataFrame, small) -> None:
    _, manifest = small
    daily = _daily_lines(tx, SMALL["start"], SMALL["days"])
    cal = calendar_frame(SMALL["start"], SMALL["days"]).set_index(pd.DatetimeIndex(daily.index))
    base = daily / (cal["multiplier"] * SMALL["lines_per_day"])
    typical = base[cal["is_open"]].median()
    for a in manifest.planted.shop_anomalies:
        assert base[pd.Timestamp(a.date)] / typical == pytest.approx(a.factor, rel=0.35), a
    sales = _sales(tx)
    per_item_day = sales.groupby(["item", "day"]).size()
    for a in manifest.planted.item_anomalies:
        series = per_item_day.get(a.stock_code, pd.Series(dtype=float))
        spike = series.get(pd.Timestamp(a.date), 0)
        assert spike >= 2 * max(series.median(), 1), a


# --- planted item effects ---


def _share(sales: pd.DataFrame, items: list[str], mask: pd.Series, reference: list[str]) -> float:
    """Lines of `items` per line of stable reference items in a period (cancels the item-mix norm)."""
    part = sales[mask]
    return part["item"].isin(items).sum() / max(part["item"].isin(reference).sum(), 1)


def _stable_items(manifest: GenerationManifest) -> list[str]:
    p = manifest.planted
    special = set(p.trending_up) | set(p.trending_down) | {c.stock_code for c in p.price_changes}
    special |= {x.stock_code for x in p.launches + p.discontinuations} | {a.stock_code for a in p.item_anomalies}
    return [i.stock_code for i in p.items if i.stock_code not in special and i.category not in ("christmas", "garden")]


def test_trending_cohorts_move_in_the_final_window(tx: pd.DataFrame, small) -> None:
    _, manifest = small
    p = manifest.planted
    sales = _sales(tx)
    stable = _stable_items(manifest)
    before = sales["day"] < pd.Timestamp(p.trend_start)
    last = sales["day"] > pd.Timestamp(p.trend_end) - pd.Timedelta(days=10)
    up = _share(sales, p.trending_up, last, stable) / _share(sales, p.trending_up, before, stable)
    down = _share(sales, p.trending_down, last, stable) / _share(sales, p.trending_down, before, stable)
    assert up > 2.0
    assert down < 0.5
    assert (p.trend_end - p.trend_start).days == SMALL["days"] // 2 - 1


def _unit_share(sales: pd.DataFrame, items: list[str], mask: pd.Series, reference: list[str]) -> float:
    part = sales[mask]
    return (
        part.loc[part["item"].isin(items), "Quantity"].sum() / part.loc[part["item"].isin(reference), "Quantity"].sum()
    )


def test_price_changes_move_demand_with_the_planted_elasticity(tx: pd.DataFrame, small) -> None:
    """Units carry the elasticity exactly in expectation (line counts are slightly attenuated, see docs)."""
    _, manifest = small
    sales = _sales(tx)
    stable = _stable_items(manifest)
    xs, ys = [], []
    for change in manifest.planted.price_changes:
        after = sales["day"] >= pd.Timestamp(change.date)
        lines = sales[sales["item"] == change.stock_code]
        assert set(lines.loc[after[lines.index], "Price"]) == {change.new_price}
        assert set(lines.loc[~after[lines.index], "Price"]) == {change.old_price}
        ratio = _unit_share(sales, [change.stock_code], after, stable) / _unit_share(
            sales, [change.stock_code], ~after, stable
        )
        xs.append(np.log(change.new_price / change.old_price))
        ys.append(np.log(ratio))
    xs, ys = np.array(xs), np.array(ys)
    slope = float((xs * ys).sum() / (xs * xs).sum())
    assert manifest.planted.elasticity == -1.5
    assert -2.5 < slope < -0.7
    assert (np.sign(ys) == -np.sign(xs)).mean() >= 0.75


def test_launches_and_discontinuations(tx: pd.DataFrame, small) -> None:
    _, manifest = small
    sales = _sales(tx)
    first, last = sales.groupby("item")["day"].min(), sales.groupby("item")["day"].max()
    for launch in manifest.planted.launches:
        assert first[launch.stock_code] >= pd.Timestamp(launch.date)
    for stop in manifest.planted.discontinuations:
        assert last[stop.stock_code] < pd.Timestamp(stop.date)
    launched_late = sum(
        first[x.stock_code] > pd.Timestamp(SMALL["start"]) + pd.Timedelta(days=7) for x in manifest.planted.launches
    )
    assert launched_late == len(manifest.planted.launches)


# --- behaviour ---


def test_customer_segments_behave_as_planted(tx: pd.DataFrame, small) -> None:
    _, manifest = small
    p = manifest.planted
    sales = _sales(tx).dropna(subset=["Customer ID"])
    seg = {cid: name for name, ids in p.segments.items() for cid in ids}
    sales = sales.assign(segment=sales["Customer ID"].astype(int).map(seg))
    qty = sales.groupby("segment")["Quantity"].mean()
    assert qty["wholesaler"] > 2 * qty[["loyal", "occasional"]].max()
    lapsed_after = {int(k): pd.Timestamp(v) for k, v in p.lapsed_after.items()}
    lapsed = sales[sales["segment"] == "lapsed"]
    assert (lapsed["day"] < lapsed["Customer ID"].astype(int).map(lapsed_after)).all()
    cutoff = sales["day"].max()
    active = set(sales.loc[sales["day"] > cutoff - pd.Timedelta(days=30), "Customer ID"].astype(int))
    assert set(p.active_last_30_days) == active
    assert sum(1 for c in p.segments["lapsed"] if c in active) < 0.2 * len(active)


def test_affinity_groups_are_bought_together(tx: pd.DataFrame, small) -> None:
    _, manifest = small
    sales = _sales(tx)
    baskets = sales.groupby("Invoice")["item"].apply(set)
    n = len(baskets)
    for group in manifest.planted.affinity_groups:
        a, b = group[0], group[1]
        has_a, has_b = baskets.apply(lambda s, a=a: a in s), baskets.apply(lambda s, b=b: b in s)
        lift = (has_a & has_b).sum() * n / max(has_a.sum() * has_b.sum(), 1)
        assert lift > 2.0, group


def test_events_are_consistent_with_transactions(small, tx: pd.DataFrame) -> None:
    out, _ = small
    ev = pd.read_parquet(out / "events.parquet")
    assert set(ev["event_type"]) == {"view", "cart", "fav", "purchase", "search"}
    search = ev[ev["event_type"] == "search"]
    assert search["stock_code"].isna().all() and search["search_query"].notna().all()
    assert ev.loc[ev["event_type"] != "search", "stock_code"].notna().all()
    assert ev["customer_id"].isna().any()  # anonymous sessions
    purchases = ev[(ev["event_type"] == "purchase") & ev["customer_id"].notna()]
    sales = _sales(tx)
    keys = set(zip(sales["Customer ID"], sales["item"], sales["InvoiceDate"], strict=True))
    assert purchases.shape[0] > 0
    assert all(
        k in keys for k in zip(purchases["customer_id"], purchases["stock_code"], purchases["event_time"], strict=True)
    )
    first = ev.groupby(["session_id", "stock_code", "event_type"])["event_time"].min().unstack()
    bought = first.dropna(subset=["purchase"])
    assert (bought["view"] <= bought["cart"]).all() and (bought["cart"] <= bought["purchase"]).all()


def test_product_text_ratings_follow_hidden_quality(small) -> None:
    out, manifest = small
    text = pd.read_parquet(out / "product_text.parquet")
    desc = text[text["kind"] == "description"]
    assert sorted(desc["stock_code"]) == sorted(i.stock_code for i in manifest.planted.items)
    assert desc["category"].notna().all()
    reviews = text[text["kind"] == "review"]
    assert reviews["rating"].between(1, 5).all() and reviews["written_at"].notna().all()
    quality = {i.stock_code: i.quality for i in manifest.planted.items}
    mean_rating = reviews.groupby("stock_code")["rating"].mean()
    corr = pd.Series(quality).reindex(mean_rating.index).corr(mean_rating, method="spearman")
    assert corr > 0.5
    assert (
        reviews.loc[reviews["rating"] <= 2, "text"]
        .str.contains("Disappointed|Terrible|Poor|Awful|Not great|cheaper")
        .all()
    )


def test_small_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_items"):
        generate(tmp_path, n_items=3, days=30)
    with pytest.raises(ValueError, match="days"):
        generate(tmp_path, days=5)


def test_start_end_in_manifest(small) -> None:
    _, manifest = small
    assert manifest.params.end == SMALL["start"] + timedelta(days=SMALL["days"] - 1)
