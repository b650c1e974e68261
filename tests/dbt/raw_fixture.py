"""Raw tables for the dbt tests: filled with hand-made rows covering every cleaning rule.

The rows and the values they must produce are documented in ``RAW_TRANSACTIONS`` below; the tests in
this folder assert exact outputs derived from them by hand.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast.settings import Settings
from trendcast.warehouse import append_frame, connect

__all__ = ["RAW_TRANSACTIONS", "create_raw_schema", "load_fixture", "duckdb_settings", "SALT"]

SALT = "dbt-test-salt"

_B1, _B2 = "batch-1", "batch-2"
_L1, _L2 = dt.datetime(2024, 1, 1, 6, 0), dt.datetime(2024, 1, 2, 6, 0)
_HEART = " WHITE HANGING HEART T-LIGHT HOLDER "
_CAKE = "REGENCY CAKESTAND 3 TIER"
_BOTTLE = "KNITTED UNION FLAG HOT WATER BOTTLE"


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# (batch, row, invoice, stock_code, description, quantity, invoice_date, price, customer_id, country)
# and what each row is (CONTRACTS section 3).
RAW_TRANSACTIONS: list[tuple] = [
    (_B1, 1, "536365", "85123A", _HEART, 6, "2010-12-01 08:26", 2.55, "17850", "United Kingdom"),  # sale
    (_B1, 2, "536365", "22423", _CAKE, 2, "2010-12-01 08:26", 12.75, "17850", "United Kingdom"),  # sale
    (_B1, 3, "536365", "22423", _CAKE, 2, "2010-12-01 08:26", 12.75, "17850", "United Kingdom"),  # duplicate
    (_B1, 4, "536366", "85123A", _HEART, 10, "2010-12-03 09:00", 2.40, "13047", "United Kingdom"),  # sale
    (_B1, 5, "C536367", "85123A", _HEART, -3, "2010-12-03 10:00", 2.55, "17850", "United Kingdom"),  # return
    (
        _B1,
        6,
        "C536368",
        "POST",
        "POSTAGE",
        -1,
        "2010-12-03 11:00",
        18.0,
        "12583",
        "France",
    ),  # cancel, non-product
    (_B1, 7, "536369", "POST", "POSTAGE", 1, "2010-12-04 12:00", 18.0, "12583", "France"),  # non-product
    (
        _B1,
        8,
        "A536370",
        "B",
        "Adjust bad debt",
        1,
        "2010-12-04 13:00",
        -11062.06,
        None,
        "United Kingdom",
    ),  # adj.
    (_B1, 9, "536371", "22423", "damaged", -5, "2010-12-05 09:00", 0.0, None, "United Kingdom"),  # stock adj.
    (
        _B1,
        10,
        "536372",
        "84029e",
        _BOTTLE,
        4,
        "2010-12-05 10:00",
        3.39,
        None,
        "United Kingdom",
    ),  # sale, no cust.
    (_B1, 11, "536373", "22423", _CAKE, 1, "2010-12-07 10:00", 0.0, "13047", "United Kingdom"),  # zero price
    (_B1, 12, "536374", "22423", _CAKE, 3, "2010-12-08 10:00", 12.75, "12583", "France"),  # sale
    (_B1, 13, "C536375", "22423", _CAKE, -1, "2010-12-06 10:00", 12.75, "12583", "France"),  # return-only day
    (_B2, 1, "536374", "22423", _CAKE, 3, "2010-12-08 10:00", 12.75, "12583", "France"),  # overlap duplicate
    (
        _B2,
        2,
        "536380",
        "85123A",
        _HEART,
        12,
        "2010-12-10 09:00",
        2.55,
        "13047",
        "United Kingdom",
    ),  # sale (cutoff)
    (
        _B2,
        3,
        "536381",
        "DOT",
        "DOTCOM POSTAGE",
        1,
        "2010-12-10 09:30",
        5.0,
        None,
        "United Kingdom",
    ),  # non-product
    (
        _B2,
        4,
        "536380",
        "85123A",
        _HEART,
        12,
        "2010-12-10 09:00",
        2.55,
        "13047",
        "United Kingdom",
    ),  # duplicate
]


def _lineage(batch: str, row: int) -> dict:
    return {
        "_batch_id": batch,
        "_source_file": f"{batch}.parquet",
        "_source_row": row,
        "_loaded_at": _L1 if batch == _B1 else _L2,
    }


def transactions_frame() -> pd.DataFrame:
    records = []
    for batch, row, invoice, code, desc, qty, when, price, customer, country in RAW_TRANSACTIONS:
        records.append(
            {
                "invoice": invoice,
                "stock_code": code,
                "description": desc,
                "quantity": qty,
                "invoice_date": _ts(when),
                "price": float(price),
                "customer_id": customer,
                "country": country,
                **_lineage(batch, row),
            }
        )
    return pd.DataFrame.from_records(records).astype({"quantity": "int64", "_source_row": "int64"})


def product_text_frame() -> pd.DataFrame:
    rows = [
        (
            "85123A",
            "description",
            "A white hanging heart holder for tea lights.",
            "lighting",
            None,
            "2010-11-01",
        ),
        ("85123A", "review", "Lovely.", None, 5, "2010-12-02"),
        ("85123A", "review", "Fine.", None, 4, "2010-12-04"),
    ]
    return pd.DataFrame.from_records(
        [
            {
                "stock_code": code,
                "kind": kind,
                "text": text,
                "category": category,
                "rating": rating,
                "written_at": _ts(written),
                **_lineage("batch-text", i + 1),
            }
            for i, (code, kind, text, category, rating, written) in enumerate(rows)
        ]
    ).astype({"rating": "Int64"})


def events_frame() -> pd.DataFrame:
    rows = [
        ("17850", "s1", "85123A", "lighting", "view", None, "2010-12-01 08:00"),
        ("17850", "s1", "85123A", "lighting", "cart", None, "2010-12-01 08:05"),
        (None, "s2", None, None, "search", "cake stand", "2010-12-02 12:00"),
    ]
    return pd.DataFrame.from_records(
        [
            {
                "customer_id": customer,
                "session_id": session,
                "stock_code": code,
                "category": category,
                "event_type": event_type,
                "search_query": query,
                "event_time": _ts(when),
                **_lineage("batch-events", i + 1),
            }
            for i, (customer, session, code, category, event_type, query, when) in enumerate(rows)
        ]
    )


# Fallback DDL (CONTRACTS section 2) for when trendcast.ingestion is not importable.
_LINEAGE_DDL = (
    "_batch_id varchar not null, _source_file varchar not null, _source_row bigint not null, "
    "_loaded_at timestamp not null"
)
_RAW_DDL = {
    "transactions": "invoice varchar not null, stock_code varchar not null, description varchar, "
    "quantity bigint not null, invoice_date timestamp not null, price double precision not null, "
    "customer_id varchar, country varchar",
    "events": "customer_id varchar, session_id varchar, stock_code varchar, category varchar, "
    "event_type varchar, search_query varchar, event_time timestamp",
    "product_text": "stock_code varchar, kind varchar, text varchar, category varchar, rating integer, "
    "written_at timestamp",
    "transactions_quarantine": "invoice varchar, stock_code varchar, description varchar, quantity varchar, "
    "invoice_date varchar, price varchar, customer_id varchar, country varchar, reason varchar not null, "
    "column_name varchar",
}


def create_raw_schema(conn: Connection) -> None:
    """The raw tables, through ingest's own DDL when available."""
    try:
        from trendcast.ingestion import ensure_raw_schema
    except ImportError:
        ensure_raw_schema = None
    if ensure_raw_schema is not None:
        ensure_raw_schema(conn)
        return
    conn.execute(sa.text("create schema if not exists raw"))
    for table, body in _RAW_DDL.items():
        conn.execute(sa.text(f"create table if not exists raw.{table} ({body}, {_LINEAGE_DDL})"))
    conn.execute(
        sa.text(
            "create table if not exists raw.ingest_batches (batch_id varchar primary key, kind varchar, "
            "source_file varchar, row_count bigint, quarantined_count bigint, loaded_at timestamp)"
        )
    )


def load_fixture(settings: Settings) -> None:
    """Create the raw schema and append the hand-made rows (one quarantined row included)."""
    with connect(settings) as conn:
        create_raw_schema(conn)
        append_frame(conn, "raw", "transactions", transactions_frame())
        append_frame(conn, "raw", "product_text", product_text_frame())
        append_frame(conn, "raw", "events", events_frame())
        quarantine = pd.DataFrame(
            [
                {
                    "invoice": "536399",
                    "stock_code": "85123A",
                    "description": "X",
                    "quantity": "many",
                    "invoice_date": "2010-12-02",
                    "price": "1.0",
                    "customer_id": None,
                    "country": "UK",
                    "reason": "not an integer",
                    "column_name": "quantity",
                    **_lineage(_B1, 99),
                }
            ]
        )
        append_frame(conn, "raw", "transactions_quarantine", quarantine)
        batches = pd.DataFrame(
            [
                {
                    "batch_id": b,
                    "kind": "transactions",
                    "source_file": f"{b}.parquet",
                    "row_count": n,
                    "quarantined_count": q,
                    "loaded_at": t,
                }
                for b, n, q, t in [(_B1, 13, 1, _L1), (_B2, 4, 0, _L2)]
            ]
        )
        append_frame(conn, "raw", "ingest_batches", batches)


def duckdb_settings(state_dir: Path, salt: str = SALT) -> Settings:
    """Explicit settings (no developer environment leaks in) for a throwaway DuckDB warehouse."""
    return Settings(
        state_dir=state_dir,
        warehouse="duckdb",
        duckdb_path=state_dir / "warehouse.duckdb",
        pseudonymisation_salt=salt,
    )
