"""Shared helpers of the ingest tests (uniquely named so it never clashes with other test folders)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from tests.conftest import DATASET_DIR

from trendcast.ingestion import BatchResult, ingest_paths
from trendcast.ingestion.schema import RAW_SCHEMA, RAW_TABLES
from trendcast.settings import Settings
from trendcast.warehouse import connect

HEADER = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
GOOD_ROWS = [
    [
        "489434",
        "85048",
        "15CM CHRISTMAS GLASS BALL 20 LIGHTS",
        "12",
        "2009-12-01 07:45:00",
        "6.95",
        "13085.0",
        "United Kingdom",
    ],
    [
        "489434",
        "79323P",
        "PINK CHERRY LIGHTS",
        "12",
        "2009-12-01 07:45:00",
        "6.75",
        "13085.0",
        "United Kingdom",
    ],
    [
        "C489449",
        "22087",
        "PAPER BUNTING WHITE LACE",
        "-12",
        "2009-12-01 10:33:00",
        "2.95",
        "16321.0",
        "Australia",
    ],
    ["A506401", "B", "Adjust bad debt", "1", "2010-04-29 13:36:00", "-53594.36", "", "United Kingdom"],
    ["489436", "POST", "POSTAGE", "3", "2009-12-01 09:06:00", "18.0", "", "France"],
]
# The real dataset lives beside the repository (never inside it).
REAL_DATA = DATASET_DIR  # one lookup for every real-data test (env override, repo sibling, /work/shared)


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] | None = HEADER) -> Path:
    """A small csv as a shop would send it (minimal quoting, \\n line ends)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def good_rows() -> list[list[str]]:
    return [list(row) for row in GOOD_ROWS]


def raw_counts(settings: Settings) -> dict[str, int]:
    """Row counts of all raw tables (0 for a missing table): the before/after snapshot."""
    with connect(settings) as conn:
        existing = set(
            conn.execute(
                sa.text("select table_name from information_schema.tables where table_schema = :s"),
                {"s": RAW_SCHEMA},
            ).scalars()
        )
        counts = {table: 0 for table in RAW_TABLES}
        present = [t for t in RAW_TABLES if t in existing]
        if present:
            query = " union all ".join(f"select '{t}', count(*) from {RAW_SCHEMA}.{t}" for t in present)
            counts.update({name: int(n) for name, n in conn.execute(sa.text(query))})
        return counts


def fetch(settings: Settings, sql: str) -> list[tuple]:
    with connect(settings) as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql))]


def deliver_corrected_twice(settings: Settings, tmp_path: Path) -> tuple[BatchResult, BatchResult, BatchResult]:
    """Deliver sales.csv, re-deliver it corrected (one price, one now-bad line), then once more unchanged."""
    rows = good_rows()
    (tmp_path / "landing").mkdir()
    path = write_csv(tmp_path / "landing" / "sales.csv", rows)
    first = ingest_paths([path], settings=settings, quarantine=True)[0]
    rows[0][HEADER.index("Price")] = "7.25"  # the shop corrects a price
    rows[1][HEADER.index("Quantity")] = "lots"  # and a line that now goes to quarantine
    write_csv(path, rows)
    second = ingest_paths([path], settings=settings, quarantine=True)[0]
    again = ingest_paths([path], settings=settings, quarantine=True)[0]
    return first, second, again
