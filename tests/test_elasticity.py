"""Price elasticity: the generator's planted -1.5 is recovered per category, scores are written idempotently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trendcast.elasticity import (
    CATEGORY_ELASTICITY_TABLE,
    ITEM_ELASTICITY_TABLE,
    estimate_elasticities,
    prepare_panel,
    run_elasticity,
)
from trendcast.generate import generate
from trendcast.generation.catalog import ELASTICITY
from trendcast.settings import Settings
from trendcast.warehouse import connect, row_count

TOLERANCE = 0.3  # the acceptance: within +-0.3 of the planted value


def item_day_frame(out: Path) -> pd.DataFrame:
    """The mart's columns from a generated shop: sale lines of catalogue items, zero-filled, price carried."""
    manifest = json.loads((out / "manifest.json").read_text())
    items = pd.DataFrame(manifest["planted"]["items"])[["stock_code", "category"]]
    lines = pd.read_parquet(out / "transactions.parquet")
    lines = lines[
        ~lines["Invoice"].str.startswith("C")
        & (lines["Quantity"] > 0)
        & (lines["Price"] > 0)
        & lines["StockCode"].isin(items["stock_code"])
    ]
    day = lines["InvoiceDate"].dt.normalize()
    daily = (
        lines.assign(sale_date=day, revenue=lines["Quantity"] * lines["Price"])
        .groupby(["StockCode", "sale_date"], as_index=False)
        .agg(units_sold=("Quantity", "sum"), revenue=("revenue", "sum"))
    )
    days = pd.date_range(day.min(), day.max(), freq="D")
    spine = pd.MultiIndex.from_product([items["stock_code"], days], names=["StockCode", "sale_date"])
    frame = daily.set_index(["StockCode", "sale_date"]).reindex(spine).reset_index()
    frame["units_sold"] = frame["units_sold"].fillna(0).astype(int)
    frame["price"] = (
        (frame["revenue"] / frame["units_sold"].where(frame["units_sold"] > 0)).groupby(frame["StockCode"]).ffill()
    )
    frame = frame.dropna(subset=["price"]).rename(columns={"StockCode": "item_id"})
    holidays = {pd.Timestamp(h["date"]) for h in manifest["planted"]["bank_holidays"]}
    frame = frame.merge(items.rename(columns={"stock_code": "item_id"}), on="item_id")
    frame["day_of_week"] = frame["sale_date"].dt.dayofweek + 1
    frame["is_uk_bank_holiday"] = frame["sale_date"].isin(holidays)
    return frame


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("elasticity_shop")
    generate(out, seed=7, n_items=400, days=730, lines_per_day=600, events=False, product_text=False)
    return item_day_frame(out)


def test_planted_elasticity_is_recovered_per_category(generated: pd.DataFrame) -> None:
    categories, items = estimate_elasticities(generated)
    assert len(categories) >= 4
    assert np.abs(categories["elasticity"] - ELASTICITY).max() <= TOLERANCE
    covered = (categories["elasticity_lo_95"] <= ELASTICITY) & (ELASTICITY <= categories["elasticity_hi_95"])
    assert covered.mean() >= 0.75


def test_panel_lags_the_price_keeps_zero_days_and_drops_closed_days() -> None:
    days = pd.date_range("2024-01-01", periods=6, freq="D")
    frame = pd.DataFrame(
        {
            "item_id": ["A"] * 6 + ["B"] * 6,
            "sale_date": list(days) * 2,
            "units_sold": [2, 0, 3, 0, 1, 0] + [1, 1, 4, 0, 2, 5],
            "price": [1.0, 1.0, 2.0, 2.0, 3.0, 3.0] + [5.0] * 6,
            "category": "c",
            "day_of_week": list(days.dayofweek + 1) * 2,
            "is_uk_bank_holiday": False,
        }
    )
    panel = prepare_panel(frame)
    a = panel[panel["item_id"] == "A"]
    # Day 4 is closed (no shop sales): dropped. A's rows run after its first sale up to its last one.
    assert a["sale_date"].dt.day.tolist() == [2, 3, 5]
    assert a["units_sold"].tolist() == [0, 3, 1]
    assert a["shelf_price"].tolist() == [1.0, 1.0, 2.0]  # the previous day's price
    assert panel.loc[panel["item_id"] == "B", "sale_date"].dt.day.tolist() == [2, 3, 5, 6]


def test_run_elasticity_writes_both_tables_idempotently(generated: pd.DataFrame, settings: Settings) -> None:
    with connect(settings) as conn:
        dbapi = conn.connection.dbapi_connection
        dbapi.execute("create schema if not exists marts")
        dbapi.register("_frame", generated)
        dbapi.execute("create table marts.ml_item_daily_sales as select * from _frame")
        dbapi.unregister("_frame")
    first = run_elasticity(settings)
    again = run_elasticity(settings)
    assert first.scoring_date == generated["sale_date"].max().date()
    with connect(settings) as conn:
        assert row_count(conn, "scores", CATEGORY_ELASTICITY_TABLE.name) == len(again.categories) >= 4
        assert row_count(conn, "scores", ITEM_ELASTICITY_TABLE.name) == len(again.items) > 0
