"""dbt project on DuckDB: exact values from the hand-made raw rows in raw_fixture.py."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.dbt.raw_fixture import SALT, transactions_frame
from trendcast.dbt import DbtRunResult, run_dbt
from trendcast.exceptions import DbtError
from trendcast.settings import Settings
from trendcast.warehouse import connect


def _frame(settings: Settings, sql: str) -> pd.DataFrame:
    with connect(settings) as conn:
        return pd.read_sql(sa.text(sql), conn)


def _key(customer_id: str, salt: str = SALT) -> str:
    return hashlib.sha256((salt + customer_id).encode()).hexdigest()


def test_build_succeeds_with_every_node(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    _, result = duckdb_build
    assert result.success, result.failures
    assert result.failures == []
    assert result.n_nodes > 50  # seeds, models, data tests and unit tests all ran
    assert result.invocation_id


def test_cleaning_summary_counts_every_rule(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    settings, _ = duckdb_build
    summary = _frame(settings, "select rule_name, count_all_rows, count_kept_rows from marts.dq_cleaning_summary")
    all_rows = dict(zip(summary.rule_name, summary.count_all_rows, strict=True))
    assert all_rows == {
        "raw_rows": 17,
        "quarantined_rows": 1,
        "overlap_duplicate_rows": 1,
        "duplicate_rows": 2,
        "cancellation_rows": 3,
        "adjustment_rows": 1,
        "return_rows": 2,
        "stock_adjustment_rows": 1,
        "non_product_rows": 4,
        "zero_price_rows": 2,
        "negative_price_rows": 1,
        "missing_customer_rows": 4,
        "sale_lines": 6,
        "excluded_rows": 9,
    }
    kept = dict(zip(summary.rule_name, summary.count_kept_rows, strict=True))
    assert kept["raw_rows"] == 14
    assert kept["excluded_rows"] == 6
    assert pd.isna(kept["overlap_duplicate_rows"])


def test_staging_flags_and_kinds(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    settings, _ = duckdb_build
    stg = _frame(settings, "select * from staging.stg_shop__transactions order by batch_id, source_row")
    assert len(stg) == 17
    flagged = stg.set_index(["batch_id", "source_row"])
    assert flagged.loc[("batch-2", 1), "is_overlap_duplicate"]
    assert flagged.loc[("batch-1", 3), "is_duplicate"] and flagged.loc[("batch-2", 4), "is_duplicate"]
    assert flagged.loc[("batch-1", 10), "item_id"] == "84029E"  # upper(trim(stock_code))
    assert flagged.loc[("batch-1", 1), "description"] == "WHITE HANGING HEART T-LIGHT HOLDER"
    kinds = stg.dropna(subset=["non_product_kind"]).set_index("item_id")["non_product_kind"].to_dict()
    assert kinds == {"POST": "postage", "B": "adjustment", "DOT": "postage"}
    # the raw customer id is not a column anywhere past raw
    assert "customer_id" not in stg.columns
    assert not stg.customer_key.isin(["17850", "13047", "12583"]).any()


def test_zero_filled_item_days(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    settings, _ = duckdb_build
    mart = _frame(settings, "select * from marts.ml_item_daily_sales order by item_id, sale_date")
    # cutoff 2010-12-10 (last sale); first sales: 85123A and 22423 on 12-01, 84029E on 12-05
    assert mart.groupby("item_id").size().to_dict() == {"22423": 10, "84029E": 6, "85123A": 10}
    assert len(mart) == 26
    assert str(mart.sale_date.max()) == "2010-12-10"
    heart = mart[mart.item_id == "85123A"].set_index(mart[mart.item_id == "85123A"].sale_date.astype(str))
    assert heart.loc["2010-12-03", ["units_sold", "units_returned", "units_net"]].tolist() == [10, 3, 7]
    assert heart.loc["2010-12-02", "units_sold"] == 0
    # price: the day's average when sold, else carried forward; lags over the zero-filled days
    assert heart.loc["2010-12-01", "avg_unit_price"] == pytest.approx(2.55)
    assert pd.isna(heart.loc["2010-12-02", "avg_unit_price"])
    assert heart.loc["2010-12-02", "price"] == pytest.approx(2.55)
    assert heart.loc["2010-12-09", "price"] == pytest.approx(2.40)
    assert heart.loc["2010-12-10", "price"] == pytest.approx(2.55)
    assert pd.isna(heart.loc["2010-12-01", "lag_1"])
    assert heart.loc["2010-12-04", "lag_1"] == 10
    assert heart.loc["2010-12-08", "lag_7"] == 6
    assert heart.loc["2010-12-04", "roll_mean_7"] == pytest.approx((6 + 0 + 10) / 3)
    assert heart.loc["2010-12-10", "roll_mean_7"] == pytest.approx(10 / 7)
    assert heart.loc["2010-12-10", "days_since_first_sale"] == 9
    # a return-only day counts as zero sold, with the return netted
    cake = mart[(mart.item_id == "22423")].set_index(mart[mart.item_id == "22423"].sale_date.astype(str))
    assert cake.loc["2010-12-06", ["units_sold", "units_returned", "units_net"]].tolist() == [0, 1, -1]
    assert cake.loc["2010-12-06", "revenue_net"] == pytest.approx(-12.75)
    assert heart.category.unique().tolist() == ["lighting"]  # from the product text feed
    assert cake.category.unique().tolist() == ["kitchen"]  # keyword rule (CAKE)


def test_calendar_covers_data_and_forecast_horizon(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    settings, _ = duckdb_build
    cal = _frame(settings, "select * from marts.ml_calendar order by date_day")
    # first invoice 2010-12-01 to cutoff 2010-12-10 + 120 days
    assert str(cal.date_day.iloc[0]) == "2010-12-01"
    assert str(cal.date_day.iloc[-1]) == "2011-04-09"
    assert len(cal) == 130
    days = cal.set_index(cal.date_day.astype(str))
    assert days.loc["2010-12-27", "holiday_name"] == "Christmas Day (substitute day)"
    assert days.loc["2011-01-03", "holiday_name"] == "New Year's Day (substitute day)"
    assert days.loc["2010-12-25", "days_to_christmas"] == 0
    assert days.loc["2010-12-26", "days_to_christmas"] == 364
    assert days.loc["2010-12-06", "day_of_week"] == 1 and days.loc["2010-12-05", "is_weekend"]


def test_revenue_net_of_returns_matches_pandas(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    settings, _ = duckdb_build
    raw = transactions_frame()
    raw = raw.drop_duplicates(subset=[c for c in raw.columns if not c.startswith("_")], keep="first")
    raw = raw[raw.invoice.str.match(r"^\d") | raw.invoice.str.startswith("C")]
    raw = raw[raw.stock_code.str.strip().str.match(r"^[0-9]{5}[A-Za-z]{0,2}$") & (raw.price > 0)]
    raw = raw[
        (raw.invoice.str.startswith("C") & (raw.quantity < 0)) | (~raw.invoice.str.startswith("C") & (raw.quantity > 0))
    ]
    expected = (
        raw.assign(item_id=raw.stock_code.str.strip().str.upper(), amount=raw.quantity * raw.price)
        .groupby("item_id")
        .amount.sum()
    )
    mart = _frame(settings, "select item_id, sum(revenue_net) as revenue_net from marts.ml_item_daily_sales group by 1")
    got = mart.set_index("item_id").revenue_net.sort_index()
    pd.testing.assert_series_equal(got, expected.sort_index().rename("revenue_net"), check_names=False, atol=1e-9)
    assert got["85123A"] == pytest.approx(6 * 2.55 + 10 * 2.40 + 12 * 2.55 - 3 * 2.55)


def test_customer_rfm(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    settings, _ = duckdb_build
    rfm = _frame(settings, "select * from marts.ml_customer_rfm").set_index("customer_key")
    assert sorted(rfm.index) == sorted([_key("17850"), _key("13047"), _key("12583")])
    first = rfm.loc[_key("17850")]
    assert first.frequency == 1
    assert first.monetary == pytest.approx(6 * 2.55 + 2 * 12.75 - 3 * 2.55)
    assert first.recency_days == 9 and first.tenure_days == 9
    assert first.n_distinct_items == 2
    assert first.return_rate == pytest.approx(3 / 8)
    second = rfm.loc[_key("13047")]
    assert (second.frequency, second.recency_days, second.tenure_days) == (2, 0, 7)
    assert second.avg_basket_value == pytest.approx((24.0 + 30.6) / 2)
    assert rfm.loc[_key("12583")].country == "France"
    assert rfm.loc[_key("12583")].monetary == pytest.approx(3 * 12.75 - 12.75)


def test_item_text(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    settings, _ = duckdb_build
    text = _frame(settings, "select * from marts.ml_item_text").set_index("item_id")
    assert sorted(text.index) == ["22423", "84029E", "85123A"]
    heart = text.loc["85123A"]
    assert (heart.review_count, heart.avg_rating, heart.category_source) == (2, 4.5, "product_text")
    assert heart.description == "A white hanging heart holder for tea lights."
    assert heart.text_hash == hashlib.sha256(heart.description.encode()).hexdigest()
    assert text.loc["84029E"].category == "accessories"  # HOT WATER BOTTLE keyword
    assert text.loc["22423"].review_count == 0


@pytest.mark.slow  # one more dbt invocation with a full parse
def test_pseudonymised_key_stable_per_salt(duckdb_build: tuple[Settings, DbtRunResult], tmp_path) -> None:
    settings, _ = duckdb_build
    keys = _frame(settings, "select distinct customer_key from staging.stg_shop__transactions")
    assert set(keys.customer_key.dropna()) == {_key("17850"), _key("13047"), _key("12583")}
    # same rows, another salt: other keys for the same customers
    other = Settings(
        state_dir=tmp_path,
        warehouse="duckdb",
        duckdb_path=tmp_path / "w.duckdb",
        pseudonymisation_salt="another-salt",
    )
    from tests.dbt.raw_fixture import load_fixture

    load_fixture(other)
    result = run_dbt(["build", "--select", "+stg_shop__transactions"], other)
    assert result.success, result.failures
    other_keys = _frame(other, "select distinct customer_key from staging.stg_shop__transactions")
    assert set(other_keys.customer_key.dropna()) == {_key(c, "another-salt") for c in ("17850", "13047", "12583")}
    assert not set(other_keys.customer_key.dropna()) & set(keys.customer_key.dropna())


def test_money_is_exact_decimal_before_the_mart(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    settings, _ = duckdb_build
    day = _frame(
        settings,
        "select revenue_sold from intermediate.int_sales_aggregated_to_item_days "
        "where item_id = '85123A' and sale_date = date '2010-12-03'",
    )
    assert Decimal(str(day.revenue_sold.iloc[0])) == Decimal("24.0000")


@pytest.mark.slow  # one more dbt invocation with a full parse
def test_build_failure_raises_dbt_error(tmp_path) -> None:
    # no raw tables at all: the first model fails and the error names it
    empty = Settings(
        state_dir=tmp_path,
        warehouse="duckdb",
        duckdb_path=tmp_path / "empty.duckdb",
        pseudonymisation_salt="x",
    )
    from trendcast.dbt import build

    with pytest.raises(DbtError, match="stg_shop__transactions"):
        build(empty, select="stg_shop__transactions")


def test_source_freshness_flags_stale_loads(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    settings, _ = duckdb_build
    # the fixture's batches were loaded in January 2024: far past the 7-day error threshold
    result = run_dbt(["source", "freshness"], settings)
    assert not result.success
    assert result.n_nodes == 1
    assert result.failures[0].startswith("source.trendcast.shop.transactions: stale source: last load 2024-01-02")


@pytest.mark.slow  # one more dbt invocation with a full parse
def test_parse_writes_a_manifest_with_enforced_contracts(tmp_path) -> None:
    import json

    from trendcast.dbt import parse

    settings = Settings(state_dir=tmp_path, warehouse="duckdb", pseudonymisation_salt="parse-only")
    manifest_path = parse(settings, target_dir=tmp_path / "target")
    nodes = json.loads(manifest_path.read_text())["nodes"]
    marts = {n["name"]: n for n in nodes.values() if n["resource_type"] == "model" and n["schema"] == "marts"}
    assert set(marts) >= {
        "ml_item_daily_sales",
        "ml_country_daily_sales",
        "ml_country_item_daily_sales",
        "ml_customer_rfm",
        "ml_customer_daily_activity",
        "ml_customer_item_events",
        "ml_event_funnel",
        "ml_item_text",
        "ml_item_review_text",
        "dq_cleaning_summary",
    }
    assert all(n["config"]["contract"]["enforced"] for n in marts.values())
    # feature marts are tables; the consumer marts over the write-back tables are views (always current)
    consumer = {name for name, n in marts.items() if n["original_file_path"].startswith("models/marts/consumer/")}
    assert {"item_demand_forecasts", "item_trends", "customer_purchase_propensity", "customer_segments"} <= consumer
    assert all(n["config"]["materialized"] == ("view" if name in consumer else "table") for name, n in marts.items())
    # the salt is a runtime input: it never appears in a parsed manifest
    assert "parse-only" not in manifest_path.read_text()


def test_descriptions_reach_the_warehouse_as_comments(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    settings, _ = duckdb_build
    with connect(settings) as conn:
        table = conn.exec_driver_sql(
            "select comment from duckdb_tables() where schema_name = 'marts' and table_name = 'ml_item_daily_sales'"
        ).scalar_one()
        column = conn.exec_driver_sql(
            "select comment from duckdb_columns() where schema_name = 'marts' "
            "and table_name = 'ml_item_daily_sales' and column_name = 'units_sold'"
        ).scalar_one()
    assert table and len(table) > 20
    assert column and len(column) > 5


def test_docs_site_lists_models_and_exposures(duckdb_build: tuple[Settings, DbtRunResult]) -> None:
    import json

    from trendcast.dbt import generate_docs

    settings, _ = duckdb_build
    folder = generate_docs(settings)
    assert (folder / "index.html").exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    catalog = json.loads((folder / "catalog.json").read_text())
    assert {"exposure.trendcast.trend_dashboard", "exposure.trendcast.demand_forecast_consumers"} <= set(
        manifest["exposures"]
    )
    assert "model.trendcast.ml_item_daily_sales" in catalog["nodes"]
