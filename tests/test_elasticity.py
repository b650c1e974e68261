"""Price elasticity: the generator's planted -1.5 is recovered per category, scores are written idempotently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trendcast import warehouse
from trendcast.behaviour.scores import ScoreTable
from trendcast.cli import app
from trendcast.elasticity import (
    CATEGORY_ELASTICITY_TABLE,
    ITEM_ELASTICITY_TABLE,
    ElasticityParams,
    estimate_elasticities,
    prepare_panel,
    run_elasticity,
)
from trendcast.generate import generate
from trendcast.generation.catalog import ELASTICITY
from trendcast.price_what_if import price_what_if
from trendcast.settings import Settings
from trendcast.warehouse import connect, row_count

runner = CliRunner()
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


def _write(settings: Settings, schema: str, table: str, frame: pd.DataFrame) -> None:
    with connect(settings) as conn:
        dbapi = conn.connection.dbapi_connection
        dbapi.execute(f"create schema if not exists {schema}")
        dbapi.register("_frame", frame)
        dbapi.execute(f"create or replace table {schema}.{table} as select * from _frame")
        dbapi.unregister("_frame")


def flat_forecast(mart: pd.DataFrame, units_per_day: float = 2.0, horizon: int = 28) -> pd.DataFrame:
    """Every item forecast at ``units_per_day`` for ``horizon`` days after the data cutoff."""
    cutoff = mart["sale_date"].max()
    items = mart["item_id"].unique()
    h = np.arange(1, horizon + 1)
    return pd.DataFrame(
        {
            "forecast_date": cutoff,
            "item_id": np.repeat(items, horizon),
            "target_date": cutoff + pd.to_timedelta(np.tile(h, items.size), unit="D"),
            "horizon": np.tile(h, items.size),
            "y_hat": units_per_day,
        }
    )


def test_estimate_writes_idempotently_and_what_if_scales_the_forecast(
    generated: pd.DataFrame, settings: Settings
) -> None:
    _write(settings, "marts", "ml_item_daily_sales", generated)
    assert runner.invoke(app, ["elasticity", "what-if", "--category", "bags", "--price-change", "-10%"]).exit_code == 1
    first = run_elasticity(settings)
    result = runner.invoke(app, ["elasticity", "estimate"])
    assert result.exit_code == 0, result.output
    assert first.scoring_date == generated["sale_date"].max().date()
    with connect(settings) as conn:
        assert row_count(conn, "scores", CATEGORY_ELASTICITY_TABLE.name) == len(first.categories) >= 4
        assert row_count(conn, "scores", ITEM_ELASTICITY_TABLE.name) == len(first.items) > 0

    no_forecasts = runner.invoke(app, ["elasticity", "what-if", "--category", "bags", "--price-change", "-10%"])
    assert no_forecasts.exit_code == 1 and "no forecasts" in no_forecasts.output
    _write(settings, "forecasts", "item_daily_forecast", flat_forecast(generated))

    bags = first.categories.set_index("category").loc["bags"]
    n_bags = generated.loc[generated["category"] == "bags", "item_id"].nunique()
    answer = price_what_if(-0.10, category="bags", settings=settings)
    assert answer.n_items == n_bags and answer.horizon_days == 28
    assert answer.units_base == pytest.approx(2.0 * 28 * n_bags)
    assert answer.units == pytest.approx(answer.units_base * 0.9 ** bags["elasticity"])
    assert answer.units_lo == pytest.approx(answer.units_base * 0.9 ** bags["elasticity_hi_95"])
    assert answer.units_lo < answer.units < answer.units_hi
    assert answer.revenue == pytest.approx(answer.revenue_base * 0.9 ** (1 + bags["elasticity"]))

    shown = runner.invoke(app, ["elasticity", "what-if", "--category", "bags", "--price-change", "-10%"])
    assert shown.exit_code == 0, shown.output
    assert f"units {answer.units_base:,.0f} -> {answer.units:,.0f}" in shown.output
    item = first.items["item_id"].iloc[0]
    by_item = runner.invoke(app, ["elasticity", "what-if", "--item", item, "--price-change", "0.05"])
    assert by_item.exit_code == 0 and f"(item {item})" in by_item.output
    for args, message in (
        (["--category", "nope", "--price-change", "-10%"], "no elasticity for category 'nope' (estimated: bags,"),
        (["--item", "NOPE", "--price-change", "-10%"], "unknown item 'NOPE'"),
        (["--category", "bags", "--price-change", "-100%"], "must be above -100%"),
        (["--category", "bags", "--price-change", "cheap"], "must look like"),
    ):
        failed = runner.invoke(app, ["elasticity", "what-if", *args])
        assert failed.exit_code == 2 and message in failed.output, failed.output
        assert "Traceback" not in failed.output and len(failed.output.strip().splitlines()) == 1


@pytest.mark.parametrize("table", [CATEGORY_ELASTICITY_TABLE, ITEM_ELASTICITY_TABLE])
def test_dbt_source_documents_every_column(table: ScoreTable) -> None:
    import yaml

    from trendcast.settings import DBT_PROJECT_DIR

    sources = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "__sources.yml").read_text())["sources"]
    scores = next(s for s in sources if s["name"] == "scores")
    declared = next(t for t in scores["tables"] if t["name"] == table.name)
    assert [c["name"] for c in declared["columns"]] == list(table.columns)


def test_output_tables_include_the_elasticity_tables(settings: Settings) -> None:
    from trendcast.outputs import ensure_output_tables

    ensure_output_tables(settings)
    with connect(settings) as conn:
        assert row_count(conn, "scores", CATEGORY_ELASTICITY_TABLE.name) == 0
        assert warehouse.table_exists(conn, "scores", ITEM_ELASTICITY_TABLE.name)


def test_weekly_task_estimates_and_passes_its_suite(generated: pd.DataFrame, settings: Settings) -> None:
    from trendcast.orchestration import retrain

    _write(settings, "marts", "ml_item_daily_sales", generated)
    summary = retrain.elasticity(settings)
    assert summary["validation_run_id"]
    assert len(summary["categories"]) >= 4
    assert all(abs(e - ELASTICITY) <= TOLERANCE for e in summary["categories"].values())


def test_pooled_fit_keeps_the_best_selling_items_per_category(generated: pd.DataFrame) -> None:
    categories, items = estimate_elasticities(generated, ElasticityParams(max_items_per_category=2))
    assert categories["n_items"].max() == 2
    assert (items.groupby("category").size() > 2).any()  # item-level fits still cover every identifying item
