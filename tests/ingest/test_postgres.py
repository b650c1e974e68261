"""The same ingest on PostgreSQL (database ``test``, schema raw dropped before and after each test)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from ingest_helpers import HEADER, deliver_corrected_twice, fetch, good_rows, raw_counts, write_csv

import trendcast.ingestion.spool as spool
from trendcast.exceptions import IngestError
from trendcast.ingestion import ingest_paths
from trendcast.settings import Settings

pytestmark = pytest.mark.postgres

SQL_TEXT = "'); DROP TABLE raw.transactions; --"


def test_postgres_load_round_trip_and_skip(pg_settings: Settings, tmp_path: Path) -> None:
    rows = good_rows()
    rows[0][HEADER.index("Description")] = SQL_TEXT
    rows[1][HEADER.index("Description")] = 'tab-free "quotes", commas; and ünïcödé'
    rows[2][HEADER.index("Description")] = ""
    path = write_csv(tmp_path / "pg.csv", rows)

    [result] = ingest_paths([path], settings=pg_settings)
    again = ingest_paths([path], settings=pg_settings)[0]

    assert result.rows_loaded == 5 and again.skipped
    stored = fetch(
        pg_settings,
        "select description, quantity, invoice_date, price, customer_id from raw.transactions order by _source_row",
    )
    assert stored[0] == (SQL_TEXT, 12, datetime(2009, 12, 1, 7, 45), 6.95, "13085")
    assert stored[1][0] == rows[1][HEADER.index("Description")]
    assert stored[2][0] is None and stored[3][3] == -53594.36 and stored[3][4] is None
    assert raw_counts(pg_settings) == {
        "transactions": 5,
        "events": 0,
        "product_text": 0,
        "transactions_quarantine": 0,
        "ingest_batches": 1,
    }


def test_postgres_reject_and_quarantine(pg_settings: Settings, tmp_path: Path) -> None:
    ingest_paths([write_csv(tmp_path / "good.csv", good_rows())], settings=pg_settings)
    before = raw_counts(pg_settings)
    rows = good_rows()
    rows[2][HEADER.index("Quantity")] = "abc"
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(IngestError, match=r"bad.csv.*row 3 \(line 4\), column 'Quantity'"):
        ingest_paths([path], settings=pg_settings)
    assert raw_counts(pg_settings) == before

    [result] = ingest_paths([path], settings=pg_settings, quarantine=True)
    assert (result.rows_loaded, result.rows_quarantined) == (4, 1)
    assert fetch(pg_settings, "select quantity, column_name, _source_row from raw.transactions_quarantine") == [
        ("abc", "quantity", 3)
    ]


def test_postgres_failure_on_second_chunk_rolls_back(
    pg_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_paths([write_csv(tmp_path / "good.csv", good_rows()[:1])], settings=pg_settings)
    before = raw_counts(pg_settings)
    monkeypatch.setattr(pg_settings, "ingest_chunk_rows", 2)
    real_append = spool.append_frame
    calls: list[int] = []

    def flaky_append(conn, schema, table, frame):  # type: ignore[no-untyped-def]
        calls.append(len(frame))
        if len(calls) == 2:
            raise RuntimeError("connection lost (injected)")
        return real_append(conn, schema, table, frame)

    monkeypatch.setattr(spool, "append_frame", flaky_append)
    with pytest.raises(RuntimeError, match="injected"):
        ingest_paths([write_csv(tmp_path / "big.csv", good_rows())], settings=pg_settings)
    assert calls == [2, 2]  # the first chunk was COPY'd inside the transaction, then rolled back
    assert raw_counts(pg_settings) == before


def test_postgres_generator_kinds(pg_settings: Settings, tmp_path: Path) -> None:
    header = ["stock_code", "kind", "text", "category", "rating", "written_at"]
    rows = [
        ["85048", "review", "Nice,\nreally", "", "4", "2010-01-05 12:00:00"],
        ["85048", "description", "Glass ball", "christmas", "", ""],
    ]
    [result] = ingest_paths([write_csv(tmp_path / "product_text.csv", rows, header)], settings=pg_settings)
    assert result.kind == "product_text" and result.rows_loaded == 2
    assert fetch(pg_settings, "select text, category, rating, written_at from raw.product_text order by 1") == [
        ("Glass ball", "christmas", None, None),
        ("Nice,\nreally", None, 4, datetime(2010, 1, 5, 12)),
    ]


def test_postgres_corrected_redelivery_replaces_the_earlier_batch(pg_settings: Settings, tmp_path: Path) -> None:
    first, second, again = deliver_corrected_twice(pg_settings, tmp_path)
    assert again.skipped and second.replaced_batch_ids == [first.batch_id]
    assert raw_counts(pg_settings)["transactions"] == 4 and raw_counts(pg_settings)["transactions_quarantine"] == 1
    assert fetch(pg_settings, "select price from raw.transactions where _source_row = 1") == [(7.25,)]
    assert fetch(pg_settings, "select batch_id, replaced_batch_ids from raw.ingest_batches") == [
        (second.batch_id, first.batch_id)
    ]
