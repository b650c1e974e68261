"""The raw schema (CONTRACTS.md section 2): DDL valid on DuckDB and PostgreSQL, and its column lists."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = [
    "RAW_SCHEMA",
    "RAW_TABLES",
    "BATCH_COLUMNS",
    "TABLE_FOR_KIND",
    "QUARANTINE_TABLE",
    "BATCHES_TABLE",
    "ensure_raw_schema",
    "table_columns",
]

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
QUARANTINE_TABLE = "transactions_quarantine"
BATCHES_TABLE = "ingest_batches"
TABLE_FOR_KIND = {"transactions": "transactions", "events": "events", "product_text": "product_text"}

# Lineage columns every raw row carries; one batch shares _batch_id, _source_file and _loaded_at.
_LINEAGE = (
    ("_batch_id", "varchar not null"),
    ("_source_file", "varchar not null"),
    ("_source_row", "bigint not null"),
    ("_loaded_at", "timestamp not null"),
)
BATCH_COLUMNS = tuple(name for name, _ in _LINEAGE)

# Types spelled so both dialects accept them ("double precision" is an alias in DuckDB).
RAW_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "transactions": (
        ("invoice", "varchar not null"),
        ("stock_code", "varchar not null"),
        ("description", "varchar"),
        ("quantity", "bigint not null"),
        ("invoice_date", "timestamp not null"),
        ("price", "double precision not null"),
        ("customer_id", "varchar"),
        ("country", "varchar"),
        *_LINEAGE,
    ),
    "events": (
        ("customer_id", "varchar"),
        ("session_id", "varchar"),
        ("stock_code", "varchar"),
        ("category", "varchar"),
        ("event_type", "varchar"),
        ("search_query", "varchar"),
        ("event_time", "timestamp"),
        *_LINEAGE,
    ),
    "product_text": (
        ("stock_code", "varchar"),
        ("kind", "varchar"),
        ("text", "varchar"),
        ("category", "varchar"),
        ("rating", "integer"),
        ("written_at", "timestamp"),
        *_LINEAGE,
    ),
    QUARANTINE_TABLE: (
        ("invoice", "varchar"),
        ("stock_code", "varchar"),
        ("description", "varchar"),
        ("quantity", "varchar"),
        ("invoice_date", "varchar"),
        ("price", "varchar"),
        ("customer_id", "varchar"),
        ("country", "varchar"),
        ("reason", "varchar not null"),
        ("column_name", "varchar"),
        *_LINEAGE,
    ),
    BATCHES_TABLE: (
        ("batch_id", "varchar not null primary key"),
        ("kind", "varchar not null"),
        ("source_file", "varchar not null"),
        ("row_count", "bigint not null"),
        ("quarantined_count", "bigint not null"),
        ("loaded_at", "timestamp not null"),
        ("replaced_batch_ids", "varchar"),  # earlier batches of the same file path this one replaced
    ),
}


def table_columns(table: str) -> list[str]:
    """Column names of a raw table, in DDL order."""
    return [name for name, _ in RAW_TABLES[table]]


def ensure_raw_schema(conn: Connection) -> None:
    """Create schema ``raw``, its five tables and columns added since (nullable) when missing; idempotent."""
    prep = conn.dialect.identifier_preparer
    existing: dict[str, set[str]] = {}
    query = "select table_name, column_name from information_schema.columns where table_schema = :schema"
    for table, column in conn.execute(sa.text(query), {"schema": RAW_SCHEMA}):
        existing.setdefault(table, set()).add(column)
    missing = {
        table: [(name, ddl) for name, ddl in columns if name not in existing.get(table, set())]
        for table, columns in RAW_TABLES.items()
    }
    if not any(missing.values()):
        return  # the common case: one catalog query instead of six DDL statements
    conn.execute(sa.text(f"create schema if not exists {prep.quote(RAW_SCHEMA)}"))
    for table, columns in RAW_TABLES.items():
        qualified = f"{prep.quote(RAW_SCHEMA)}.{prep.quote(table)}"
        if table not in existing:
            body = ",\n  ".join(f"{prep.quote(name)} {ddl}" for name, ddl in columns)
            conn.execute(sa.text(f"create table if not exists {qualified} (\n  {body}\n)"))
            continue
        for name, ddl in missing[table]:
            if "not null" not in ddl:  # a warehouse created by an older trendcast
                conn.execute(sa.text(f"alter table {qualified} add column if not exists {prep.quote(name)} {ddl}"))
                log.info("added column %s.%s.%s", RAW_SCHEMA, table, name)
    log.debug("raw schema ensured on %s", conn.dialect.name)
