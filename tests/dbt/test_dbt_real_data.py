"""The dbt project on the real Online Retail II files: cleaning counts match the dataset README."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.dbt.raw_fixture import create_raw_schema
from trendcast.dbt import build
from trendcast.settings import Settings
from trendcast.warehouse import connect

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


def _load_online_retail(settings: Settings, dataset_dir: Path) -> None:
    """Both yearly files as two batches, in file order (the overlap lands in the second one)."""
    with connect(settings) as conn:
        create_raw_schema(conn)
    with duckdb.connect(str(settings.duckdb_file)) as con:
        files = sorted(dataset_dir.glob("online_retail_ii_*.parquet"))
        for day, path in enumerate(files):
            batch_id = hashlib.sha256(path.read_bytes()).hexdigest()
            con.execute(
                f"""
                insert into raw.transactions
                select "Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
                       cast(cast("Customer ID" as bigint) as varchar), "Country",
                       ?, ?, file_row_number + 1, timestamp '2024-01-01 06:00:00' + to_days({day})
                from read_parquet(?, file_row_number = true)
                """,
                [batch_id, path.name, str(path)],
            )


def test_real_data_build(dataset_dir: Path, tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        warehouse="duckdb",
        duckdb_path=tmp_path / "warehouse.duckdb",
        pseudonymisation_salt="real-data-test",
    )
    _load_online_retail(settings, dataset_dir)
    result = build(settings)
    assert result.success
    with connect(settings) as conn:
        summary = pd.read_sql(sa.text("select * from marts.dq_cleaning_summary"), conn).set_index("rule_name")
        n_item_days, n_items = conn.execute(
            sa.text("select count(*), count(distinct item_id) from marts.ml_item_daily_sales")
        ).one()
    counts = summary.count_all_rows.to_dict()
    # README: 525,461 + 541,909 rows, 22,523 of them the overlap of 1-9 Dec 2010
    assert counts["raw_rows"] == 1_067_370
    assert counts["overlap_duplicate_rows"] == 22_523
    assert counts["raw_rows"] - counts["overlap_duplicate_rows"] == 1_044_847
    assert counts["cancellation_rows"] == 10_206 + 9_288
    assert counts["zero_price_rows"] == 3_687 + 2_515
    assert counts["negative_price_rows"] == 2 + 3
    assert counts["missing_customer_rows"] == 107_927 + 135_080
    # README counts 3,098 + 2,995 on the untrimmed code; '47503J ' (trailing space) is a product here
    assert counts["non_product_rows"] == 3_098 + 2_995 - 1
    assert n_items > 4_000 and n_item_days > 2_500_000
