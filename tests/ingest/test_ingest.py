"""Loading good files: typed values, UCI variants, formats, quarantine, idempotency, atomicity."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from ingest_helpers import HEADER, fetch, good_rows, raw_counts, write_csv

import trendcast.ingestion.loader as loader
import trendcast.ingestion.spool as spool
from trendcast.exceptions import IngestError
from trendcast.ingestion import BatchResult, ensure_raw_schema, file_batch_id, ingest_paths
from trendcast.settings import Settings
from trendcast.warehouse import connect

SQL_TEXT = "'); DROP TABLE raw.transactions; --"
SQL_COUNTRY = 'x"; delete from raw.ingest_batches; --'


def test_csv_loads_typed_values_with_lineage(settings: Settings, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "shop.csv", good_rows())
    calls: list[tuple[str, int]] = []

    [result] = ingest_paths([path], settings=settings, progress=lambda name, n: calls.append((name, n)))

    assert result == BatchResult(
        batch_id=file_batch_id(path),
        kind="transactions",
        source_file=str(path.resolve()),
        rows_loaded=5,
        rows_quarantined=0,
        skipped=False,
    )
    assert calls == [("shop.csv", 5)]
    rows = fetch(
        settings,
        "select invoice, stock_code, description, quantity, invoice_date, price, customer_id, "
        "country, _source_row from raw.transactions order by _source_row",
    )
    assert rows[0] == (
        "489434",
        "85048",
        "15CM CHRISTMAS GLASS BALL 20 LIGHTS",
        12,
        datetime(2009, 12, 1, 7, 45),
        6.95,
        "13085",
        "United Kingdom",
        1,
    )
    assert rows[2][0] == "C489449" and rows[2][3] == -12
    assert rows[3] == (
        "A506401",
        "B",
        "Adjust bad debt",
        1,
        datetime(2010, 4, 29, 13, 36),
        -53594.36,
        None,
        "United Kingdom",
        4,
    )
    lineage = fetch(settings, "select distinct _batch_id, _source_file, _loaded_at from raw.transactions")
    assert len(lineage) == 1 and lineage[0][0] == result.batch_id and lineage[0][1] == str(path.resolve())
    batches = fetch(settings, "select batch_id, kind, row_count, quarantined_count, loaded_at from raw.ingest_batches")
    assert batches == [(result.batch_id, "transactions", 5, 0, lineage[0][2])]


def test_uci_variant_names_and_us_dates(settings: Settings, tmp_path: Path) -> None:
    header = [
        "InvoiceNo",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
    ]
    rows = [
        [
            "536365",
            "85123A",
            "WHITE HANGING HEART T-LIGHT HOLDER",
            "6",
            "12/1/2010 8:26",
            "2.55",
            "17850",
            "United Kingdom",
        ],
        ["536366", "22633", "HAND WARMER UNION JACK", "6", "12/13/2010 8:28", "1.85", "", "United Kingdom"],
    ]
    [result] = ingest_paths([write_csv(tmp_path / "uci.csv", rows, header)], settings=settings)
    assert result.rows_loaded == 2
    assert fetch(settings, "select invoice, invoice_date, price, customer_id from raw.transactions order by 1") == [
        ("536365", datetime(2010, 12, 1, 8, 26), 2.55, "17850"),
        ("536366", datetime(2010, 12, 13, 8, 28), 1.85, None),
    ]


def test_case_and_whitespace_insensitive_headers_and_day_first_dates(settings: Settings, tmp_path: Path) -> None:
    header = [
        " invoice ",
        "STOCKCODE",
        "description",
        "quantity",
        "Invoice Date",
        "price",
        "customer_id",
        "country",
    ]
    rows = [
        ["489434", "85048", "GLASS BALL", "12", "01/12/2009 07:45", "6.95", "13085.0", "United Kingdom"],
        ["489435", "22350", "CAT BOWL", "12", "02/12/2009 07:46", "2.55", "13085.0", "United Kingdom"],
    ]
    ingest_paths([write_csv(tmp_path / "eu.csv", rows, header)], settings=settings)
    assert fetch(settings, "select invoice_date from raw.transactions order by 1") == [
        (datetime(2009, 12, 1, 7, 45),),
        (datetime(2009, 12, 2, 7, 46),),
    ]


def test_excel_style_csv_with_bom_crlf_and_quoted_commas(settings: Settings, tmp_path: Path) -> None:
    text = "\r\n".join(
        [
            ",".join(HEADER),
            '489434,85048,"GLASS BALL, 20 LIGHTS",12,2009-12-01 07:45,6.95,13085,United Kingdom',
            '489434,79323P,"PINK ""CHERRY"" LIGHTS",12,2009-12-01 07:45,6.75,,United Kingdom',
            ",,,,,,,",  # Excel's trailing empty row
            "",
        ]
    )
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    [result] = ingest_paths([path], settings=settings)
    assert result.rows_loaded == 2
    assert fetch(settings, "select description, customer_id from raw.transactions order by _source_row") == [
        ("GLASS BALL, 20 LIGHTS", "13085"),
        ('PINK "CHERRY" LIGHTS', None),
    ]


def test_sql_fragments_round_trip_byte_exact(settings: Settings, tmp_path: Path) -> None:
    rows = good_rows()
    rows[0][HEADER.index("Description")] = SQL_TEXT
    rows[1][HEADER.index("Country")] = SQL_COUNTRY
    rows[2][HEADER.index("Description")] = 'O\'Brien "quoted", comma; semi — ünïcödé ✓'
    ingest_paths([write_csv(tmp_path / "sql.csv", rows)], settings=settings)
    stored = fetch(settings, "select description, country from raw.transactions order by _source_row")
    assert stored[0][0] == SQL_TEXT
    assert stored[1][1] == SQL_COUNTRY
    assert stored[2][0] == rows[2][HEADER.index("Description")]
    assert raw_counts(settings)["transactions"] == 5 and raw_counts(settings)["ingest_batches"] == 1


def test_sql_fragment_in_a_rejected_file_harms_nothing(settings: Settings, tmp_path: Path) -> None:
    ingest_paths([write_csv(tmp_path / "good.csv", good_rows())], settings=settings)
    before = raw_counts(settings)
    rows = good_rows()
    rows[0][HEADER.index("Invoice")] = SQL_TEXT
    with pytest.raises(IngestError, match=r"row 1 \(line 2\), column 'Invoice'"):
        ingest_paths([write_csv(tmp_path / "evil.csv", rows)], settings=settings)
    assert raw_counts(settings) == before


def test_quarantine_loads_good_rows_and_keeps_bad_ones_aside(settings: Settings, tmp_path: Path) -> None:
    rows = good_rows()
    rows[1][HEADER.index("Quantity")] = "abc"
    rows[3][HEADER.index("Description")] = "<b>bold</b>"
    rows[4][HEADER.index("InvoiceDate")] = "2099-01-01 00:00:00"
    path = write_csv(tmp_path / "mixed.csv", rows)

    [result] = ingest_paths([path], settings=settings, quarantine=True)

    assert (result.rows_loaded, result.rows_quarantined, result.skipped) == (2, 3, False)
    assert fetch(settings, "select _source_row from raw.transactions order by 1") == [(1,), (3,)]
    quarantined = fetch(
        settings,
        "select _source_row, column_name, quantity, description, invoice_date, reason, "
        "_batch_id from raw.transactions_quarantine order by 1",
    )
    assert [(r[0], r[1]) for r in quarantined] == [(2, "quantity"), (4, "description"), (5, "invoice_date")]
    assert quarantined[0][2] == "abc" and quarantined[1][3] == "<b>bold</b>"
    assert quarantined[2][4] == "2099-01-01 00:00:00"
    assert "integer" in quarantined[0][5] and "HTML" in quarantined[1][5] and "future" in quarantined[2][5]
    assert {r[6] for r in quarantined} == {result.batch_id}
    assert fetch(settings, "select row_count, quarantined_count from raw.ingest_batches") == [(2, 3)]


def test_same_file_twice_is_skipped(settings: Settings, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "shop.csv", good_rows())
    first = ingest_paths([path], settings=settings)[0]
    before = raw_counts(settings)
    second = ingest_paths([path], settings=settings)[0]
    assert second.skipped and second.batch_id == first.batch_id and second.rows_loaded == 0
    assert raw_counts(settings) == before


def test_same_content_under_another_name_is_skipped(settings: Settings, tmp_path: Path) -> None:
    one = write_csv(tmp_path / "one.csv", good_rows())
    two = tmp_path / "copy_of_one.csv"
    two.write_bytes(one.read_bytes())
    results = ingest_paths([one, two], settings=settings)
    assert [r.skipped for r in results] == [False, True]
    assert results[0].batch_id == results[1].batch_id
    assert raw_counts(settings)["transactions"] == 5


def test_overlapping_files_are_loaded_as_received(settings: Settings, tmp_path: Path) -> None:
    rows = good_rows()
    first = write_csv(tmp_path / "a.csv", rows[:4])
    second = write_csv(tmp_path / "b.csv", rows[2:])  # rows 3-4 in both: dbt flags them, ingest keeps them
    results = ingest_paths([first, second], settings=settings)
    assert [r.rows_loaded for r in results] == [4, 3]
    assert raw_counts(settings)["transactions"] == 7


def test_failure_mid_write_leaves_warehouse_unchanged(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raw rows are already inserted when the quarantine copy fails: all of it rolls back."""
    ingest_paths([write_csv(tmp_path / "good.csv", good_rows()[:1])], settings=settings)
    before = raw_counts(settings)
    rows = good_rows()
    rows[3][HEADER.index("Quantity")] = "abc"
    path = write_csv(tmp_path / "big.csv", rows)
    monkeypatch.setattr(settings, "ingest_chunk_rows", 2)
    real_insert = spool._duckdb_insert
    calls: list[str] = []

    def flaky_insert(conn, table, spool_path, lineage):  # type: ignore[no-untyped-def]
        calls.append(table)
        if len(calls) == 2:
            raise RuntimeError("disk full (injected)")
        real_insert(conn, table, spool_path, lineage)

    monkeypatch.setattr(spool, "_duckdb_insert", flaky_insert)
    with pytest.raises(RuntimeError, match="injected"):
        ingest_paths([path], settings=settings, quarantine=True)
    assert calls == ["transactions", "transactions_quarantine"]
    assert raw_counts(settings) == before

    monkeypatch.setattr(spool, "_duckdb_insert", real_insert)
    [result] = ingest_paths([path], settings=settings, quarantine=True)
    assert (result.skipped, result.rows_loaded, result.rows_quarantined) == (False, 4, 1)


def test_failure_on_the_batch_row_rolls_back_the_rows(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_append(conn, schema, table, frame):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"cannot write {table} (injected)")

    monkeypatch.setattr(loader, "append_frame", broken_append)
    with pytest.raises(RuntimeError, match="ingest_batches"):
        ingest_paths([write_csv(tmp_path / "shop.csv", good_rows())], settings=settings)
    assert set(raw_counts(settings).values()) == {0}


def test_small_chunks_keep_row_numbers_and_date_format(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "ingest_chunk_rows", 2)
    rows = good_rows()
    for row in rows:  # DD/MM dates; only row 5 (third chunk) proves the order: 13 cannot be a month
        stamp = datetime.fromisoformat(row[HEADER.index("InvoiceDate")])
        row[HEADER.index("InvoiceDate")] = f"{stamp:%d/%m/%Y %H:%M}"
    rows[4][HEADER.index("InvoiceDate")] = "13/12/2009 09:06"
    progress: list[int] = []
    ingest_paths(
        [write_csv(tmp_path / "chunks.csv", rows)], settings=settings, progress=lambda _, n: progress.append(n)
    )
    assert progress == [2, 4, 5]
    assert fetch(settings, "select _source_row, invoice_date from raw.transactions order by 1") == [
        (1, datetime(2009, 12, 1, 7, 45)),
        (2, datetime(2009, 12, 1, 7, 45)),
        (3, datetime(2009, 12, 1, 10, 33)),
        (4, datetime(2010, 4, 29, 13, 36)),
        (5, datetime(2009, 12, 13, 9, 6)),
    ]


def test_bad_row_in_a_late_chunk_rolls_back_earlier_chunks(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "ingest_chunk_rows", 2)
    rows = good_rows()
    rows[4][HEADER.index("Price")] = "free"
    with pytest.raises(IngestError, match=r"row 5 \(line 6\), column 'Price'"):
        ingest_paths([write_csv(tmp_path / "late.csv", rows)], settings=settings)
    assert set(raw_counts(settings).values()) == {0}


def test_xlsx_with_a_notes_sheet_first(settings: Settings, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Notes"
    notes.append(["Exported from the shop on 2011-12-10"])
    sheet = book.create_sheet("Year 2010-2011")
    sheet.append(
        [
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ]
    )
    sheet.append([536365, "85123A", "WHITE HANGING HEART", 6, datetime(2010, 12, 1, 8, 26), 2.55, 17850.0, "UK"])
    sheet.append([536365, 71053, "WHITE METAL LANTERN", 6, datetime(2010, 12, 1, 8, 26), 3.39, None, "UK"])
    sheet.append([None] * 8)
    path = tmp_path / "shop.xlsx"
    book.save(path)

    [result] = ingest_paths([path], settings=settings)

    assert result.rows_loaded == 2
    assert fetch(
        settings,
        "select invoice, stock_code, quantity, invoice_date, price, customer_id "
        "from raw.transactions order by _source_row",
    ) == [
        ("536365", "85123A", 6, datetime(2010, 12, 1, 8, 26), 2.55, "17850"),
        ("536365", "71053", 6, datetime(2010, 12, 1, 8, 26), 3.39, None),
    ]


def _generator_folder(folder: Path) -> Path:
    folder.mkdir()
    frame = pd.DataFrame(good_rows(), columns=HEADER)
    frame["Quantity"] = frame["Quantity"].astype("int64")
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"]).astype("datetime64[us]")
    frame["Price"] = frame["Price"].astype("float64")
    frame["Customer ID"] = pd.to_numeric(frame["Customer ID"])
    frame.to_parquet(folder / "transactions.parquet", index=False)
    pd.DataFrame(
        {
            "customer_id": [13085.0, None, 16321.0],
            "session_id": ["s1", "s2", "s3"],
            "stock_code": ["85048", None, "22087"],
            "category": ["christmas", None, "party"],
            "event_type": ["view", "search", "purchase"],
            "search_query": [None, "fairy lights", None],
            "event_time": pd.to_datetime(["2009-12-01 07:40", "2009-12-01 07:41", "2009-12-01 10:30"]).astype(
                "datetime64[us]"
            ),
        }
    ).to_parquet(folder / "events.parquet", index=False)
    pd.DataFrame(
        {
            "stock_code": ["85048", "85048"],
            "kind": ["description", "review"],
            "text": ["Glass ball with 20 lights.", "Lovely!\nWould buy again."],
            "category": ["christmas", None],
            "rating": pd.array([None, 5], dtype="Int64"),
            "written_at": pd.to_datetime([None, "2010-01-05 12:00"]),
        }
    ).to_parquet(folder / "product_text.parquet", index=False)
    (folder / "manifest.json").write_text(json.dumps({"seed": 1}))
    return folder


def test_generator_directory_detects_kinds_and_ignores_manifest(settings: Settings, tmp_path: Path) -> None:
    folder = _generator_folder(tmp_path / "out")
    results = ingest_paths([folder], settings=settings)
    assert [(Path(r.source_file).name, r.kind, r.rows_loaded) for r in results] == [
        ("events.parquet", "events", 3),
        ("product_text.parquet", "product_text", 2),
        ("transactions.parquet", "transactions", 5),
    ]
    assert fetch(settings, "select customer_id, event_type, search_query from raw.events order by _source_row") == [
        ("13085", "view", None),
        (None, "search", "fairy lights"),
        ("16321", "purchase", None),
    ]
    assert fetch(settings, "select kind, text, rating from raw.product_text order by _source_row") == [
        ("description", "Glass ball with 20 lights.", None),
        ("review", "Lovely!\nWould buy again.", 5),
    ]
    assert fetch(settings, "select customer_id from raw.transactions where _source_row = 1") == [("13085",)]


def test_events_csv_is_accepted_and_validated(settings: Settings, tmp_path: Path) -> None:
    header = [
        "customer_id",
        "session_id",
        "stock_code",
        "category",
        "event_type",
        "search_query",
        "event_time",
    ]
    good = [["13085", "s1", "85048", "christmas", "cart", "", "2009-12-01 07:40:00"]]
    [result] = ingest_paths([write_csv(tmp_path / "events.csv", good, header)], settings=settings)
    assert result.kind == "events" and result.rows_loaded == 1
    bad = [*good, ["13085", "s1", "85048", "christmas", "teleport", "", "2009-12-01 07:41:00"]]
    with pytest.raises(IngestError, match=r"events_bad.csv.*row 2 \(line 3\), column 'event_type'.*'teleport'"):
        ingest_paths([write_csv(tmp_path / "events_bad.csv", bad, header)], settings=settings, quarantine=True)


def test_ensure_raw_schema_is_idempotent(settings: Settings) -> None:
    for _ in range(2):
        with connect(settings) as conn:
            ensure_raw_schema(conn)
    assert raw_counts(settings) == {
        "transactions": 0,
        "events": 0,
        "product_text": 0,
        "transactions_quarantine": 0,
        "ingest_batches": 0,
    }


def test_missing_path_and_unsupported_suffix(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        ingest_paths([tmp_path / "nope.csv"], settings=settings)
    other = tmp_path / "data.json"
    other.write_text("{}")
    with pytest.raises(IngestError, match="unsupported file type '.json'"):
        ingest_paths([other], settings=settings)
