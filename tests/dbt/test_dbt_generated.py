"""Generator -> ingest -> dbt: the counts the generator planted come out of the marts exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from trendcast.dbt import build
from trendcast.settings import Settings
from trendcast.warehouse import connect

pytestmark = pytest.mark.slow

_RULES = [
    "raw_rows",
    "overlap_duplicate_rows",
    "duplicate_rows",
    "cancellation_rows",
    "adjustment_rows",
    "return_rows",
    "stock_adjustment_rows",
    "non_product_rows",
    "zero_price_rows",
    "negative_price_rows",
    "missing_customer_rows",
    "sale_lines",
]


def test_generated_shop_counts_match_the_manifest(tmp_path: Path) -> None:
    generate = pytest.importorskip("trendcast.generate")
    ingestion = pytest.importorskip("trendcast.ingestion")
    settings = Settings(
        state_dir=tmp_path / "state",
        warehouse="duckdb",
        duckdb_path=tmp_path / "state" / "warehouse.duckdb",
        pseudonymisation_salt="generated",
    )
    manifest = generate.generate(tmp_path / "data", seed=7, n_items=60, days=200, lines_per_day=60)
    ingestion.ingest_paths([tmp_path / "data"], settings=settings, quarantine=True)
    build(settings)
    expected = manifest.expected

    with connect(settings) as conn:
        summary = dict(conn.execute(sa.text("select rule_name, count_all_rows from marts.dq_cleaning_summary")).all())
        days = conn.execute(
            sa.text(
                "select count(*), count(distinct item_id), sum(units_sold), sum(units_returned), "
                "sum(revenue_sold), sum(revenue_returned), sum(revenue_net), min(sale_date), max(sale_date) "
                "from marts.ml_item_daily_sales"
            )
        ).one()
        n_customers = conn.execute(sa.text("select count(*) from marts.ml_customer_rfm")).scalar_one()

    assert {rule: summary[rule] for rule in _RULES} == {rule: expected[rule] for rule in _RULES}
    n_rows, n_items, units_sold, units_returned, revenue_sold, revenue_returned, revenue_net, first, last = days
    assert n_rows == expected["item_days_zero_filled"]
    assert n_items == expected["items_with_sales"]
    assert (units_sold, units_returned) == (expected["units_sold_total"], expected["units_returned_total"])
    assert revenue_sold == pytest.approx(expected["revenue_sold_total"], abs=0.01)
    assert revenue_returned == pytest.approx(expected["revenue_returned_total"], abs=0.01)
    assert revenue_net == pytest.approx(expected["revenue_net_total"], abs=0.01)
    assert (str(first), str(last)) == (str(expected["first_sale_date"]), str(expected["cutoff_date"]))
    assert n_customers == expected["customers_with_sales"]
