"""Validation of the Online Retail II warehouse: ingest, dbt build, then the gate passes on raw and features."""

from __future__ import annotations

from pathlib import Path

import pytest

from trendcast.quality import validate_tables


@pytest.mark.real_data
@pytest.mark.slow
def test_online_retail_ii_passes_validation(dataset_dir: Path) -> None:
    from trendcast import dbt
    from trendcast.ingestion import ingest_paths

    ingest_paths(sorted(dataset_dir.glob("*.parquet")))
    dbt.build()
    result = validate_tables(["raw.transactions", "marts.ml_item_daily_sales"], alert=False)
    assert result.passed, [(o.check, o.observed) for o in result.failures]
    assert result.warnings == []
    by_suite = {s.suite: s for s in result.suites}
    assert by_suite["raw_transactions"].n_rows == 525_461 + 541_909  # both files, as received
    assert by_suite["ml_item_daily_sales"].stats["items"] > 4000
    cutoff = next(o for o in by_suite["ml_item_daily_sales"].outcomes if o.check == "fresh_to_cutoff")
    assert cutoff.success and str(cutoff.observed_value).startswith("2011-12-09")
