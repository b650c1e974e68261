"""Malformed inputs: each file is rejected with a message naming file, row and column; nothing is written."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_helpers import HEADER, good_rows, raw_counts, write_csv

from trendcast.exceptions import IngestError
from trendcast.ingestion import ingest_paths
from trendcast.settings import Settings


def _with(row: int, column: str, value: str) -> list[list[str]]:
    rows = good_rows()
    rows[row][HEADER.index(column)] = value
    return rows


def _csv(name: str, rows: list[list[str]], header: list[str] | None = HEADER) -> Callable[[Path], Path]:
    return lambda folder: write_csv(folder / name, rows, header)


def _text(name: str, text: str | bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return make


def _good_csv_text() -> str:
    return "\n".join(",".join(r) for r in [HEADER, *good_rows()[:3]]) + "\n"


def _frame() -> pd.DataFrame:
    frame = pd.DataFrame(good_rows(), columns=HEADER)
    frame["Quantity"] = frame["Quantity"].astype("int64")
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"]).astype("datetime64[us]")
    frame["Price"] = frame["Price"].astype("float64")
    frame["Customer ID"] = pd.to_numeric(frame["Customer ID"])
    return frame


def _truncated_parquet(folder: Path) -> Path:
    path = folder / "truncated.parquet"
    pq.write_table(pa.Table.from_pandas(_frame(), preserve_index=False), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _parquet_text_quantity(folder: Path) -> Path:
    frame = _frame()
    frame["Quantity"] = ["12", "abc", "-12", "1", "3"]
    path = folder / "text_quantity.parquet"
    frame.to_parquet(path, index=False)
    return path


def _xlsx(name: str, header: list[str], rows: list[list[object]]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        path = folder / name
        book.save(path)
        return path

    return make


def _non_utf8(folder: Path) -> Path:
    text = _good_csv_text().replace("PINK CHERRY LIGHTS", "PINK CAF\N{LATIN SMALL LETTER E WITH ACUTE} LIGHTS")
    path = folder / "latin1.csv"
    path.write_bytes(text.encode("latin-1"))
    return path


@dataclass(frozen=True)
class Case:
    make: Callable[[Path], Path]
    expected: tuple[str, ...]  # substrings of the message besides the file name


_XLSX_ROW = [
    489434,
    "85048",
    "GLASS BALL",
    12,
    pd.Timestamp("2009-12-01 07:45").to_pydatetime(),
    6.95,
    13085,
    "UK",
]

CASES: dict[str, Case] = {
    "missing_column": Case(
        _csv("missing.csv", [r[:5] + r[6:] for r in good_rows()], HEADER[:5] + HEADER[6:]),
        ("header row (line 1)", "missing required column", "'Price'", "found columns"),
    ),
    "renamed_unknown_column": Case(
        _csv("renamed.csv", good_rows(), ["InvoiceNumber", *HEADER[1:]]),
        (
            "header row (line 1)",
            "missing required column",
            "'Invoice'",
            "unrecognised columns: 'InvoiceNumber'",
        ),
    ),
    "quantity_abc": Case(
        _csv("qty_abc.csv", _with(1, "Quantity", "abc")),
        ("row 2 (line 3)", "column 'Quantity'", "'abc'", "expected an integer"),
    ),
    "quantity_fraction": Case(
        _csv("qty_frac.csv", _with(2, "Quantity", "1.5")),
        ("row 3 (line 4)", "column 'Quantity'", "'1.5'", "integer"),
    ),
    "price_x": Case(
        _csv("price_x.csv", _with(0, "Price", "x")),
        ("row 1 (line 2)", "column 'Price'", "'x'", "expected a number"),
    ),
    "empty_file": Case(_text("empty.csv", b""), ("empty (0 bytes", "no header row", "column")),
    "header_only": Case(
        _text("header_only.csv", ",".join(HEADER) + "\n"),
        ("header only", "line 1", "no data rows", "columns"),
    ),
    "future_date": Case(
        _csv("future.csv", _with(2, "InvoiceDate", "2099-01-01 10:00:00")),
        ("row 3 (line 4)", "column 'InvoiceDate'", "'2099-01-01 10:00:00'", "no future dates"),
    ),
    "date_before_2000": Case(
        _csv("old.csv", _with(0, "InvoiceDate", "1999-12-31 23:59:00")),
        ("row 1 (line 2)", "column 'InvoiceDate'", "not before 2000-01-01"),
    ),
    "unparseable_date": Case(
        _csv("bad_date.csv", _with(1, "InvoiceDate", "2009-13-45 07:45:00")),
        ("row 2 (line 3)", "column 'InvoiceDate'", "'2009-13-45 07:45:00'", "a date"),
    ),
    "negative_price": Case(
        _csv("neg_price.csv", _with(1, "Price", "-1.5")),
        ("row 2 (line 3)", "column 'Price'", "'-1.5'", "negative prices only on 'A'"),
    ),
    "huge_price": Case(
        _csv("huge_price.csv", _with(1, "Price", "250000")),
        ("row 2 (line 3)", "column 'Price'", "at most 100,000"),
    ),
    "huge_quantity": Case(
        _csv("huge_qty.csv", _with(4, "Quantity", "5000000")),
        ("row 5 (line 6)", "column 'Quantity'", "'5000000'", "huge quantities"),
    ),
    "non_utf8": Case(_non_utf8, ("row 2 (line 3)", "column 'Description'", "byte offset", "UTF-8", "\\xe9")),
    "html_description": Case(
        _csv("html.csv", _with(0, "Description", "<script>alert(1)</script>")),
        ("row 1 (line 2)", "column 'Description'", "HTML markup", "<script>"),
    ),
    "html_country": Case(
        _csv("html_country.csv", _with(3, "Country", "javascript:alert(document.cookie)")),
        ("row 4 (line 5)", "column 'Country'", "HTML"),
    ),
    "control_characters": Case(
        _csv("ctrl.csv", _with(1, "Description", "RED \x1b[31mLIGHTS")),
        ("row 2 (line 3)", "column 'Description'", "control characters", "\\x1b"),
    ),
    "long_stock_code": Case(
        _csv("long_code.csv", _with(1, "StockCode", "X" * 40)),
        ("row 2 (line 3)", "column 'StockCode'", "at most 32 characters"),
    ),
    "bad_invoice": Case(
        _csv("bad_invoice.csv", _with(0, "Invoice", "INV-12")),
        ("row 1 (line 2)", "column 'Invoice'", "'INV-12'", "invoice number"),
    ),
    "empty_invoice": Case(
        _csv("empty_invoice.csv", _with(1, "Invoice", "")),
        ("row 2 (line 3)", "column 'Invoice'", "non-empty"),
    ),
    "fractional_customer": Case(
        _csv("customer.csv", _with(0, "Customer ID", "12346.5")),
        ("row 1 (line 2)", "column 'Customer ID'", "'12346.5'", "integer customer number"),
    ),
    "truncated_parquet": Case(_truncated_parquet, ("row 1", "column", "unreadable parquet", "truncated")),
    "parquet_text_quantity": Case(_parquet_text_quantity, ("row 2", "column 'Quantity'", "'abc'")),
    "unterminated_quote": Case(
        _text("cut_quote.csv", _good_csv_text() + '489437,22111,"SCOTTIE DOG HOT WATER BOTT'),
        ("row 4 (line 5)", "column 'Description'", "unterminated", "truncated"),
    ),
    "short_row": Case(
        _text("cut_row.csv", _good_csv_text() + "489437,22111,SCOTTIE DOG,12"),
        ("row 4 (line 5)", "column 'InvoiceDate'", "4 fields, expected 8", "truncated"),
    ),
    "extra_field": Case(
        _text("extra.csv", _good_csv_text().replace("6.75,", "6,75,")),
        ("row 2 (line 3)", "column", "9 fields, expected 8", "extra field"),
    ),
    "semicolon_delimiter": Case(
        _text("semicolon.csv", _good_csv_text().replace(",", ";")),
        ("header row (line 1)", "single column", "';'", "semicolon-separated", "wrong delimiter"),
    ),
    "tab_delimiter": Case(
        _text("tabs.csv", _good_csv_text().replace(",", "\t")),
        ("header row (line 1)", "single column", "tab-separated"),
    ),
    "mixed_date_formats": Case(
        _csv("mixed_dates.csv", _with(1, "InvoiceDate", "12/1/2009 7:45")),
        ("row 2 (line 3)", "column 'InvoiceDate'", "'12/1/2009 7:45'", "mixed date formats", "row 1"),
    ),
    "duplicate_column_names": Case(
        _csv("dup.csv", [r + ["1.0"] for r in good_rows()], [*HEADER, "Price"]),
        ("header row (line 1)", "duplicate column name 'Price'", "column 6", "column 9"),
    ),
    "duplicate_alias_columns": Case(
        _csv("dup_alias.csv", [r + ["1.0"] for r in good_rows()], [*HEADER, "UnitPrice"]),
        ("header row (line 1)", "'Price' and 'UnitPrice'", "column 'Price'"),
    ),
    "xlsx_wrong_columns": Case(
        _xlsx("wrong.xlsx", ["Order", "Item", "Qty"], [["1", "2", 3]]),
        (
            "sheet 'Sheet' header row (Excel row 1)",
            "missing required column",
            "'Invoice'",
            "found columns: 'Order', 'Item', 'Qty'",
        ),
    ),
    "xlsx_fractional_quantity": Case(
        _xlsx("frac.xlsx", HEADER, [_XLSX_ROW, [*_XLSX_ROW[:3], 1.5, *_XLSX_ROW[4:]]]),
        ("row 2 (sheet 'Sheet', Excel row 3)", "column 'Quantity'", "'1.5'", "integer"),
    ),
    "not_an_xlsx": Case(_text("fake.xlsx", "Invoice,StockCode\n1,2\n"), ("row 1", "column", "unreadable xlsx")),
}


@pytest.fixture(scope="module")
def loaded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file holding one good batch, built once and copied per test (copying beats re-ingesting)."""
    folder = tmp_path_factory.mktemp("template")
    settings = Settings(state_dir=folder / "state", warehouse="duckdb", duckdb_path=None)
    ingest_paths([write_csv(folder / "good.csv", good_rows())], settings=settings)
    return settings.duckdb_file


@pytest.fixture
def loaded(settings: Settings, loaded_template: Path) -> Settings:
    """A warehouse that already holds one good batch, so 'unchanged' compares non-zero counts."""
    settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(loaded_template, settings.duckdb_file)
    return settings


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_file_is_rejected_and_nothing_written(name: str, loaded: Settings, tmp_path: Path) -> None:
    case = CASES[name]
    path = case.make(tmp_path)
    before = raw_counts(loaded)
    assert before["transactions"] == 5 and before["ingest_batches"] == 1

    with pytest.raises(IngestError) as caught:
        ingest_paths([path], settings=loaded)

    message = str(caught.value)
    assert path.name in message
    for expected in case.expected:
        assert expected in message, f"{expected!r} not in {message!r}"
    assert raw_counts(loaded) == before


@pytest.mark.parametrize("name", ["quantity_abc", "missing_column", "mixed_date_formats", "short_row"])
def test_file_level_problems_reject_even_in_quarantine_mode(name: str, loaded: Settings, tmp_path: Path) -> None:
    path = CASES[name].make(tmp_path)
    before = raw_counts(loaded)
    if name == "quantity_abc":  # a row problem: quarantined, not rejected
        result = ingest_paths([path], settings=loaded, quarantine=True)[0]
        assert (result.rows_loaded, result.rows_quarantined) == (4, 1)
        return
    with pytest.raises(IngestError, match=path.name):
        ingest_paths([path], settings=loaded, quarantine=True)
    assert raw_counts(loaded) == before


def test_message_counts_the_other_failing_rows(loaded: Settings, tmp_path: Path) -> None:
    rows = _with(0, "Quantity", "abc")
    rows[2][HEADER.index("Price")] = "x"
    rows[4][HEADER.index("Quantity")] = "1.5"
    path = write_csv(tmp_path / "three_bad.csv", rows)
    with pytest.raises(IngestError) as caught:
        ingest_paths([path], settings=loaded)
    message = str(caught.value)
    assert "row 1 (line 2), column 'Quantity': value 'abc'" in message
    assert "2 other row(s) failed validation" in message
    assert "Quantity: 2" in message and "Price: 1" in message
