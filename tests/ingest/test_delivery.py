"""Hostile deliveries (issue 18): multi-sheet workbooks, huge csv fields, time zones, customer ids,
corrected re-deliveries and spools left by a killed ingest."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from ingest_helpers import HEADER, deliver_corrected_twice, fetch, good_rows, raw_counts, write_csv

import trendcast.ingestion.readers as readers
from trendcast.exceptions import IngestError
from trendcast.ingestion import ensure_raw_schema, ingest_paths
from trendcast.ingestion.readers import CSV_FIELD_LIMIT
from trendcast.ingestion.spool import STALE_SPOOL_AGE_S, Spool, remove_stale_spools
from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect

UCI_HEADER = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]


def _year_sheet(book: openpyxl.Workbook, title: str, invoice: int, lines: int, month: int) -> None:
    sheet = book.create_sheet(title)
    sheet.append(UCI_HEADER)
    for line in range(lines):
        sheet.append(
            [invoice + line, "85123A", "WHITE HANGING HEART", 6, datetime(2010, month, 1, 8, line), 2.55, 17850.0, "UK"]
        )


def test_xlsx_loads_every_year_sheet(settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Online Retail II, two years"])
    _year_sheet(book, "Year 2009-2010", 489434, 3, 1)
    _year_sheet(book, "Year 2010-2011", 536365, 4, 2)
    path = tmp_path / "online_retail_II.xlsx"
    book.save(path)

    with caplog.at_level(logging.INFO):
        [result] = ingest_paths([path], settings=settings)

    assert result.rows_loaded == 7
    rows = fetch(settings, "select _source_row, invoice from raw.transactions order by _source_row")
    assert rows == [
        (i + 1, inv) for i, inv in enumerate(["489434", "489435", "489436", *map(str, range(536365, 536369))])
    ]
    assert "skipping a sheet without a transactions header: sheet 'Notes'" in caplog.text
    assert "sheet 'Year 2010-2011' = data rows 4-7" in caplog.text


def test_xlsx_error_names_the_second_sheet(settings: Settings, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    _year_sheet(book, "Year 2009-2010", 489434, 2, 1)
    _year_sheet(book, "Year 2010-2011", 536365, 2, 2)
    book["Year 2010-2011"].cell(row=3, column=6, value="free")
    path = tmp_path / "two_years.xlsx"
    book.save(path)

    with pytest.raises(IngestError, match=r"row 4 \(sheet 'Year 2010-2011', Excel row 3\), column 'Price'"):
        ingest_paths([path], settings=settings)
    assert set(raw_counts(settings).values()) == {0}


def test_xlsx_sheet_with_a_broken_transaction_header_rejects(settings: Settings, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    _year_sheet(book, "Year 2009-2010", 489434, 2, 1)
    broken = book.create_sheet("Year 2010-2011")
    broken.append(UCI_HEADER[:-1])  # Country missing
    path = tmp_path / "broken.xlsx"
    book.save(path)

    with pytest.raises(IngestError, match=r"sheet 'Year 2010-2011' header row.*missing required column\(s\) 'Country'"):
        ingest_paths([path], settings=settings)


def test_long_csv_field_is_a_row_and_column_error(settings: Settings, tmp_path: Path) -> None:
    rows = good_rows()
    rows[1][HEADER.index("Description")] = "x" * 200_000
    path = write_csv(tmp_path / "long.csv", rows)

    with pytest.raises(IngestError) as caught:
        ingest_paths([path], settings=settings)

    message = str(caught.value)
    assert "\n" not in message and len(message) < 400
    assert "long.csv: rejected" in message
    assert "row 2 (line 3), column 'Description'" in message and "at most 500 characters" in message
    assert set(raw_counts(settings).values()) == {0}


def test_long_csv_field_can_be_quarantined(settings: Settings, tmp_path: Path) -> None:
    rows = good_rows()
    rows[1][HEADER.index("Description")] = "x" * 200_000
    [result] = ingest_paths([write_csv(tmp_path / "long.csv", rows)], settings=settings, quarantine=True)
    assert (result.rows_loaded, result.rows_quarantined) == (4, 1)


def test_csv_field_over_the_parse_limit_names_row_and_column(settings: Settings, tmp_path: Path) -> None:
    rows = good_rows()
    rows[2][HEADER.index("Country")] = "y" * (CSV_FIELD_LIMIT + 10)
    path = write_csv(tmp_path / "huge.csv", rows)

    with pytest.raises(IngestError) as caught:
        ingest_paths([path], settings=settings)

    message = str(caught.value)
    assert "\n" not in message and len(message) < 400
    assert message.startswith("huge.csv: row 3 (line 4), column 'Country': a field longer than 1,048,576 characters")


def test_unclosed_quote_swallowing_the_file_names_its_column(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "open_quote.csv"
    line = "489434,85048,LIGHTS,12,2009-12-01 07:45:00,6.95,13085,United Kingdom\n"
    opened = line.replace("LIGHTS", '"OPEN QUOTE')
    path.write_text(",".join(HEADER) + "\n" + opened + line * 20_000, encoding="utf-8")

    with pytest.raises(IngestError, match=r"row 1 \(line 2\), column 'Description': a field longer than"):
        ingest_paths([path], settings=settings)


def test_same_instant_from_tokyo_and_utc_lands_on_one_timestamp(settings: Settings, tmp_path: Path) -> None:
    tokyo, utc = good_rows()[:1], good_rows()[1:2]
    tokyo[0][HEADER.index("InvoiceDate")] = "2010-12-01T17:26:00+09:00"
    utc[0][HEADER.index("InvoiceDate")] = "2010-12-01T08:26:00Z"
    frame = pd.DataFrame(good_rows()[2:3], columns=HEADER).astype({"Quantity": "int64", "Price": "float64"})
    frame["InvoiceDate"] = pd.Series([pd.Timestamp("2010-12-01 03:26", tz="America/New_York")])
    frame.to_parquet(tmp_path / "new_york.parquet", index=False)

    ingest_paths(
        [write_csv(tmp_path / "tokyo.csv", tokyo), write_csv(tmp_path / "utc.csv", utc), tmp_path / "new_york.parquet"],
        settings=settings,
    )

    # Europe/London is UTC+0 in December: every file lands on 08:26 shop time.
    assert fetch(settings, "select distinct invoice_date from raw.transactions") == [(datetime(2010, 12, 1, 8, 26),)]


def test_aware_timestamps_convert_to_the_configured_shop_zone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRENDCAST_SHOP_TIMEZONE", "Asia/Tokyo")
    get_settings.cache_clear()
    settings = get_settings()
    rows = good_rows()[:2]
    rows[0][HEADER.index("InvoiceDate")] = "2010-07-01 08:26:00+01:00"  # summer time in London
    rows[1][HEADER.index("InvoiceDate")] = "2010-07-01 16:26:00"  # naive: already shop time

    ingest_paths([write_csv(tmp_path / "mixed.csv", rows)], settings=settings)

    assert fetch(settings, "select distinct invoice_date from raw.transactions") == [(datetime(2010, 7, 1, 16, 26),)]


def test_customer_id_is_one_customer_across_source_types(settings: Settings, tmp_path: Path) -> None:
    rows = good_rows()[:2]
    rows[0][HEADER.index("Customer ID")] = "012345"
    rows[1][HEADER.index("Customer ID")] = " 0012345.0 "
    frame = pd.DataFrame(good_rows()[2:3], columns=HEADER).astype({"Quantity": "int64", "Price": "float64"})
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    frame["Customer ID"] = [12345.0]
    frame.to_parquet(tmp_path / "numeric.parquet", index=False)
    book = openpyxl.Workbook()
    book.active.append(UCI_HEADER)
    book.active.append([536365, "85123A", "HEART", 6, datetime(2010, 12, 1, 8, 26), 2.55, "012345", "UK"])
    book.active.append([536366, "85123A", "HEART", 6, datetime(2010, 12, 1, 8, 27), 2.55, 12345, "UK"])
    book.save(tmp_path / "shop.xlsx")

    ingest_paths(
        [write_csv(tmp_path / "text.csv", rows), tmp_path / "numeric.parquet", tmp_path / "shop.xlsx"],
        settings=settings,
    )

    assert fetch(settings, "select customer_id, count(*) from raw.transactions group by 1") == [("12345", 5)]


def test_corrected_redelivery_replaces_the_earlier_batch(settings: Settings, tmp_path: Path) -> None:
    first, second, again = deliver_corrected_twice(settings, tmp_path)

    assert not second.skipped and second.replaced_batch_ids == [first.batch_id]
    assert again.skipped and again.batch_id == second.batch_id
    assert raw_counts(settings) == {
        "transactions": 4,
        "events": 0,
        "product_text": 0,
        "transactions_quarantine": 1,
        "ingest_batches": 1,
    }
    assert fetch(settings, "select distinct _batch_id from raw.transactions") == [(second.batch_id,)]
    assert fetch(settings, "select price from raw.transactions where _source_row = 1") == [(7.25,)]
    assert fetch(settings, "select batch_id, replaced_batch_ids from raw.ingest_batches") == [
        (second.batch_id, first.batch_id)
    ]


def test_warehouse_from_before_replacements_gets_the_new_column(settings: Settings, tmp_path: Path) -> None:
    with connect(settings) as conn:
        ensure_raw_schema(conn)
        conn.execute(sa.text("alter table raw.ingest_batches drop column replaced_batch_ids"))
    first, second, _ = deliver_corrected_twice(settings, tmp_path)
    assert fetch(settings, "select replaced_batch_ids from raw.ingest_batches") == [(first.batch_id,)]


def _plant(parent: Path, name: str, age_s: float = 0) -> Path:
    folder = parent / name
    folder.mkdir(parents=True)
    (folder / "transactions.parquet").write_bytes(b"x" * 1000)
    if age_s:
        old = time.time() - age_s
        os.utime(folder, (old, old))
    return folder


def test_next_ingest_removes_spools_of_dead_ingests_only(settings: Settings, tmp_path: Path) -> None:
    parent = settings.state_path / "tmp"
    host = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())
    dead = subprocess.Popen(["true"])
    dead.wait()
    with subprocess.Popen(["sleep", "60"]) as live:
        try:
            killed = _plant(parent, f"ingest-{host}-{dead.pid}-k9x_ab12")
            legacy = _plant(parent, "ingest-q1w2e3r4", age_s=2 * STALE_SPOOL_AGE_S)
            running = _plant(parent, f"ingest-{host}-{live.pid}-r7u_cd34")
            elsewhere = _plant(parent, f"ingest-otherhost-{dead.pid}-z0z_ef56")
            ingest_paths([write_csv(tmp_path / "sales.csv", good_rows())], settings=settings)
        finally:
            live.kill()

    assert not killed.exists() and not legacy.exists()
    assert running.exists() and elsewhere.exists()
    assert raw_counts(settings)["transactions"] == 5


def test_spool_names_its_owner_process(tmp_path: Path) -> None:
    with Spool(tmp_path, 10) as spool:
        assert spool.folder.name.startswith(
            f"ingest-{re.sub(r'[^A-Za-z0-9.]', '_', socket.gethostname())}-{os.getpid()}-"
        )
        assert remove_stale_spools(tmp_path) == [] and spool.folder.exists()
    assert list(tmp_path.iterdir()) == []


def test_csv_chunks_are_bounded_in_bytes(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "_CHUNK_BYTES", 1000)
    rows = [good_rows()[0] for _ in range(40)]
    for row in rows:
        row[HEADER.index("Description")] = "y" * 400  # about two rows per 1000 bytes
    seen: list[int] = []

    ingest_paths([write_csv(tmp_path / "wide.csv", rows)], settings=settings, progress=lambda _, n: seen.append(n))

    assert len(seen) >= 10 and seen[-1] == 40  # 3 rows a chunk instead of all 40
    assert raw_counts(settings)["transactions"] == 40


def test_newline_free_giant_line_is_not_read_into_memory(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "_LINE_BYTES", 4096)
    rows = good_rows()
    rows[3][HEADER.index("Description")] = "z" * 10_000
    path = write_csv(tmp_path / "giant.csv", rows)

    with pytest.raises(IngestError, match=r"^giant.csv: row 4 \(line 5\), column 'Description': a field longer than"):
        ingest_paths([path], settings=settings)


def test_rejected_redelivery_keeps_the_earlier_batch(settings: Settings, tmp_path: Path) -> None:
    rows = good_rows()
    path = write_csv(tmp_path / "sales.csv", rows)
    [first] = ingest_paths([path], settings=settings)
    rows[0][HEADER.index("Price")] = "free"
    write_csv(path, rows)

    with pytest.raises(
        IngestError, match=r"sales.csv: rejected, nothing was written. row 1 \(line 2\), column 'Price'"
    ):
        ingest_paths([path], settings=settings)

    assert fetch(settings, "select distinct _batch_id from raw.transactions") == [(first.batch_id,)]
    assert raw_counts(settings)["transactions"] == 5
