"""Online Retail II end to end (ingest, then dbt build): cleaning counts match the dataset README."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from trendcast.dbt import build
from trendcast.ingestion import ingest_paths
from trendcast.settings import Settings
from trendcast.warehouse import connect

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


def test_real_data_build(dataset_dir: Path, tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        warehouse="duckdb",
        duckdb_path=tmp_path / "warehouse.duckdb",
        pseudonymisation_salt="real-data-test",
    )
    # the user's route: `trendcast ingest` of both files, overlap and all, then `trendcast build`
    ingest_paths(sorted(dataset_dir.glob("online_retail_ii_*.parquet")), settings=settings)
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
