"""The dbt project on PostgreSQL produces the same marts as on DuckDB from the same raw rows."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from trendcast.dbt import DbtRunResult
from trendcast.settings import Settings
from trendcast.warehouse import connect

pytestmark = pytest.mark.postgres

Built = tuple[Settings, DbtRunResult]


def _frame(settings: Settings, sql: str) -> pd.DataFrame:
    with connect(settings) as conn:
        return pd.read_sql(sa.text(sql), conn)


def _both(duckdb_build: Built, postgres_build: Built, sql: str, order_by: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    duck = _frame(duckdb_build[0], f"{sql} order by {order_by}")
    pg = _frame(postgres_build[0], f"{sql} order by {order_by}")
    return duck, pg


def test_postgres_build_succeeds(postgres_build: Built) -> None:
    _, result = postgres_build
    assert result.success, result.failures
    assert result.n_nodes > 50


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("ml_item_daily_sales", "item_id, sale_date"),
        ("ml_customer_rfm", "customer_key"),
        ("ml_item_text", "item_id"),
        ("ml_customer_item_events", "customer_key, event_at, event_type, item_id"),
        ("dq_cleaning_summary", "rule_order"),
        ("ml_calendar", "date_day"),
    ],
)
def test_marts_equal_on_both_warehouses(duckdb_build: Built, postgres_build: Built, table: str, key: str) -> None:
    duck, pg = _both(duckdb_build, postgres_build, f"select * from marts.{table}", key)
    assert len(duck) == len(pg) > 0
    assert list(duck.columns) == list(pg.columns)
    for column in duck.columns:
        left, right = duck[column], pg[column]
        if pd.api.types.is_float_dtype(left) or pd.api.types.is_float_dtype(right):
            pd.testing.assert_series_equal(
                left.astype("float64"), right.astype("float64"), check_names=False, rtol=1e-9, atol=1e-9
            )
        else:
            assert left.astype(str).tolist() == right.astype(str).tolist(), column


def test_mart_aggregates_equal(duckdb_build: Built, postgres_build: Built) -> None:
    sql = (
        "select count(*) as n_rows, sum(units_sold) as units_sold, sum(units_returned) as units_returned, "
        "sum(revenue_net) as revenue_net, count(distinct item_id) as n_items from marts.ml_item_daily_sales"
    )
    duck, pg = _frame(duckdb_build[0], sql), _frame(postgres_build[0], sql)
    assert duck.n_rows[0] == pg.n_rows[0] == 26
    assert int(duck.units_sold[0]) == int(pg.units_sold[0]) == 6 + 10 + 12 + 2 + 3 + 4
    assert int(duck.units_returned[0]) == int(pg.units_returned[0]) == 4
    assert float(duck.revenue_net[0]) == pytest.approx(float(pg.revenue_net[0]), rel=1e-12)
    rfm = (
        "select sum(monetary) as monetary, sum(frequency) as frequency, sum(recency_days) as recency "
        "from marts.ml_customer_rfm"
    )
    duck, pg = _frame(duckdb_build[0], rfm), _frame(postgres_build[0], rfm)
    assert int(duck.frequency[0]) == int(pg.frequency[0]) == 4
    assert int(duck.recency[0]) == int(pg.recency[0]) == 9 + 0 + 2
    assert float(duck.monetary[0]) == pytest.approx(float(pg.monetary[0]), rel=1e-12)
