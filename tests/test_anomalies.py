"""Sales-anomaly detection: planted spikes and drops are found with few false alarms; storage and digest."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import duckdb
import numpy as np
import pandas as pd
import pytest

from trendcast.anomalies import (
    ANOMALY_COLUMNS,
    build_daily_digest,
    detect_sales_anomalies,
    write_sales_anomalies,
)
from trendcast.settings import get_settings

START = dt.date(2024, 1, 1)
N_DAYS = 210
EVAL_FROM = START + dt.timedelta(days=70)  # eight weeks of baseline first


def _planted_frame(seed: int = 3) -> tuple[pd.DataFrame, set[tuple[str, dt.date]], set[dt.date]]:
    """60 items with weekly seasonality and Poisson noise; returns (frame, planted item-days, planted shop days)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(START, periods=N_DAYS, freq="D")
    weekly = np.array([1.1, 1.2, 1.0, 1.0, 1.3, 0.6, 0.4])[dates.dayofweek]
    levels = rng.lognormal(np.log(6), 0.8, 60)
    units = rng.poisson(np.outer(levels, weekly))
    eval_days = np.flatnonzero(dates.date >= EVAL_FROM)
    shop_days = rng.choice(eval_days, 3, replace=False)
    units[:, shop_days[:2]] = np.round(units[:, shop_days[:2]] * 3)  # shop-wide spikes
    units[:, shop_days[2]] = np.round(units[:, shop_days[2]] * 0.15)  # shop-wide drop
    planted: set[tuple[int, int]] = set()
    candidates = [d for d in eval_days if d not in shop_days]
    while len(planted) < 30:  # item spikes: x5 of the item's level, at least 12 units
        item, day = int(rng.integers(60)), int(rng.choice(candidates))
        units[item, day] = max(12, int(levels[item] * weekly[day] * 5))
        planted.add((item, day))
    big = np.flatnonzero(levels * 0.4 >= 12)  # drops only where a drop is visible at all
    for item in big[:8]:
        day = int(rng.choice(candidates))
        units[item, day] = 0
        planted.add((int(item), day))
    ids = [f"{20000 + i}" for i in range(60)]
    frame = pd.DataFrame(
        {
            "item_id": np.repeat(ids, N_DAYS),
            "sale_date": np.tile(dates.date, 60),
            "units_sold": units.reshape(-1).astype("int64"),
        }
    )
    return frame, {(ids[i], dates[d].date()) for i, d in planted}, {dates[d].date() for d in shop_days}


def test_planted_item_anomalies_found_with_few_false_alarms() -> None:
    frame, planted, shop_days = _planted_frame()
    original = frame.copy()
    found = detect_sales_anomalies(frame, since=EVAL_FROM)
    pd.testing.assert_frame_equal(frame, original)  # input not modified
    assert list(found.columns) == ANOMALY_COLUMNS
    items = found[(found["level"] == "item") & ~found["sale_date"].isin(shop_days)]
    flagged = set(zip(items["item_id"], items["sale_date"], strict=True))
    recall = len(flagged & planted) / len(planted)
    precision = len(flagged & planted) / len(flagged)
    assert recall >= 0.8, (recall, precision)
    assert precision >= 0.5, (recall, precision)
    # measured: seed 3 recall 28/32 = 0.88, precision 28/32 = 0.88 (seeds 4, 5: 0.91/0.94, 0.81/0.83)
    assert found["sale_date"].min() >= EVAL_FROM


def test_planted_shop_days_found() -> None:
    frame, _, shop_days = _planted_frame()
    found = detect_sales_anomalies(frame, since=EVAL_FROM)
    shop = found[found["level"] == "shop"]
    assert set(shop["sale_date"]) == shop_days
    assert shop["item_id"].isna().all()
    assert sorted(shop["direction"]) == ["drop", "spike", "spike"]


@pytest.mark.slow
def test_generated_shop_planted_anomalies(tmp_path) -> None:
    """On trendcast.generate output, the manifest's planted shop-day anomalies are found.

    Measured (seed 11, 80 items, 730 days): shop days recall 5/5, precision 5/5; planted item spikes recall
    6/10 with ~1,000 other flagged item-days, because the generator's x8 item spikes land on lumpy wholesale
    series and its launches, trends and discontinuations are real level shifts. Item-level precision is
    asserted on the controlled synthetic frame above instead.
    """
    generate = pytest.importorskip("trendcast.generate")
    manifest = generate.generate(tmp_path / "shop", seed=11, n_items=80, days=730, events=False, product_text=False)
    tx = pd.read_parquet(tmp_path / "shop" / "transactions.parquet")
    sales = tx[
        ~tx["Invoice"].str[0].isin(["C", "A"])
        & (tx["Quantity"] > 0)
        & (tx["Price"] > 0)
        & tx["StockCode"].str.fullmatch(r"[0-9]{5}[A-Za-z]{0,2}")
    ]
    daily = (
        sales.assign(item_id=sales["StockCode"].str.strip().str.upper(), sale_date=sales["InvoiceDate"].dt.date)
        .groupby(["item_id", "sale_date"], as_index=False)["Quantity"]
        .sum()
        .rename(columns={"Quantity": "units_sold"})
    )
    end = daily["sale_date"].max()
    first = daily.groupby("item_id")["sale_date"].min()
    calendar = pd.MultiIndex.from_tuples(  # zero-filled from each item's first sale, as the feature mart
        [(item, day) for item, start in first.items() for day in pd.date_range(start, end).date],
        names=["item_id", "sale_date"],
    )
    daily = daily.set_index(["item_id", "sale_date"]).reindex(calendar, fill_value=0).reset_index()
    first_eval = min(daily["sale_date"]) + dt.timedelta(weeks=9)
    found = detect_sales_anomalies(daily, since=first_eval, holidays=[h.date for h in manifest.planted.bank_holidays])

    shop_planted = {a.date for a in manifest.planted.shop_anomalies if a.date >= first_eval}
    shop_found = set(found.loc[found["level"] == "shop", "sale_date"])
    hits = shop_found & shop_planted
    assert len(shop_planted) >= 4
    assert len(hits) / len(shop_planted) >= 0.8, (shop_planted, shop_found)
    assert len(hits) / len(shop_found) >= 0.5, (shop_planted, shop_found)

    item_planted = {(a.stock_code.upper(), a.date) for a in manifest.planted.item_anomalies if a.date >= first_eval}
    items = found[found["level"] == "item"]
    item_found = set(zip(items["item_id"], items["sale_date"], strict=True))
    assert len(item_found & item_planted) / len(item_planted) >= 0.5


def test_write_replaces_by_detection_date_and_digest_escapes() -> None:
    frame, _, _ = _planted_frame()
    found = detect_sales_anomalies(frame, since=EVAL_FROM)
    day = dt.date(2024, 7, 28)
    assert write_sales_anomalies(found, day) == len(found)
    assert write_sales_anomalies(found.head(3), day) == 3  # re-running the day replaces its rows
    with duckdb.connect(str(get_settings().duckdb_file)) as con:
        assert con.execute("select count(*) from ops.sales_anomalies").fetchone()[0] == 3

    hostile = found.head(2).copy()
    hostile.loc[hostile.index[0], "item_id"] = "<script>alert(1)</script>"
    message = build_daily_digest(hostile, detection_date=day)
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"].startswith("[trendcast] Daily digest 2024-07-28")
    html_part = parsed.get_body(("html",)).get_content()
    assert "<script>" not in html_part and "&lt;script&gt;alert(1)&lt;/script&gt;" in html_part
    assert "<script>alert(1)</script>" in parsed.get_body(("plain",)).get_content()


def test_daily_run_reads_the_mart_stores_and_sends_the_digest() -> None:
    from trendcast.anomalies import run_daily_anomalies

    frame, planted, _ = _planted_frame()
    with duckdb.connect(str(get_settings().duckdb_file)) as con:
        con.execute("create schema marts")
        con.register("f", frame)
        con.execute("create table marts.ml_item_daily_sales as select * from f")
    last = max(frame["sale_date"])
    anomalies, delivery = run_daily_anomalies(days=28)
    assert delivery is not None and delivery.method == "outbox"
    assert set(anomalies["detection_date"]) == {last}
    assert anomalies["sale_date"].min() >= last - dt.timedelta(days=27)
    recent = {p for p in planted if p[1] >= last - dt.timedelta(days=27)}
    items = anomalies[anomalies["level"] == "item"]
    found = set(zip(items["item_id"], items["sale_date"], strict=True))
    assert recent and len(found & recent) / len(recent) >= 0.8
    with duckdb.connect(str(get_settings().duckdb_file)) as con:
        stored = con.execute("select count(*) from ops.sales_anomalies where detection_date = ?", [last]).fetchone()
    assert stored[0] == len(anomalies)
    digest = email.message_from_bytes(delivery.path.read_bytes(), policy=email.policy.default)
    assert digest["Subject"] == (
        f"[trendcast] Daily digest {last.isoformat()}: {(anomalies['level'] == 'item').sum()} item and "
        f"{(anomalies['level'] == 'shop').sum()} shop anomalies"
    )
