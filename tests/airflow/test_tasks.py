"""Task bodies without Airflow: the ingest task loads only new landing files."""

from __future__ import annotations

import datetime as dt

from trendcast.generate import generate
from trendcast.orchestration.environment import landing_dir
from trendcast.orchestration.tasks import ingest_landing
from trendcast.settings import Settings
from trendcast.warehouse import connect, row_count


def test_ingest_landing_loads_each_file_once(settings: Settings) -> None:
    empty = ingest_landing(settings)
    assert empty["files"] == 0 and empty["new_files"] == 0  # the DAG skips: no Asset event
    manifest = generate(
        landing_dir(settings) / "day1", seed=3, n_items=20, n_customers=50, start=dt.date(2024, 1, 1), days=30
    )
    first = ingest_landing(settings)
    assert first["files"] == 3 and first["new_files"] == 3  # transactions, events, product text (not manifest.json)
    with connect(settings) as conn:
        assert (
            row_count(conn, "raw", "transactions")
            == manifest.expected["raw_rows"]
            == first["rows_loaded"] - (row_count(conn, "raw", "events") + row_count(conn, "raw", "product_text"))
        )
    again = ingest_landing(settings)
    assert again["files"] == 3 and again["new_files"] == 0 and again["rows_loaded"] == 0
