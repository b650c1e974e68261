"""Hostile deliveries (issue 18): multi-sheet workbooks, huge csv fields, time zones, customer ids,
corrected re-deliveries and spools left by a killed ingest."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from ingest_helpers import fetch, raw_counts

from trendcast.exceptions import IngestError
from trendcast.ingest import ingest_paths
from trendcast.settings import Settings

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
