"""Warehouse access through SQLAlchemy: one engine factory, bulk appends and atomic replaces.

DuckDB (embedded default) and PostgreSQL (production) behave the same through these functions.
DuckDB allows a single writer process, so connections are opened per call and closed promptly.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from trendcast.exceptions import WarehouseLockedError
from trendcast.settings import Settings, get_settings

__all__ = [
    "create_warehouse_engine",
    "connect",
    "append_frame",
    "replace_partition",
    "table_exists",
    "row_count",
    "list_tables",
    "quote_ident",
    "is_lock_error",
    "lock_holder",
]

log = logging.getLogger(__name__)


def create_warehouse_engine(settings: Settings | None = None) -> Engine:
    """Engine for the configured warehouse; the DuckDB file's folder is created on demand."""
    settings = settings or get_settings()
    if settings.warehouse == "duckdb":
        settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
        # NullPool: no pooled connection keeps the single-writer lock after a call returns.
        engine = sa.create_engine(settings.sqlalchemy_url, poolclass=sa.pool.NullPool)
        # SET, not a connect-time config: dbt-duckdb may hold the same file in this process, and DuckDB refuses a
        # second connection whose config differs. The limit is validated by Settings (a size such as 4GB).
        limit = settings.duckdb_memory_limit
        sa.event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute(f"set memory_limit = '{limit}'"))
        return engine
    return sa.create_engine(settings.sqlalchemy_url, pool_pre_ping=True)


@contextmanager
def connect(settings: Settings | None = None) -> Iterator[Connection]:
    """A transaction on a fresh connection: committed on success, rolled back on any error.

    On DuckDB a committed change is then published to the readers' snapshot (:mod:`trendcast.snapshot`) while
    this connection still holds the file.
    """
    from trendcast.snapshot import publish_snapshot

    settings = settings or get_settings()
    engine = create_warehouse_engine(settings)
    try:
        with _connect_waiting(engine, settings) as conn:
            with conn.begin():
                yield conn
            if conn.dialect.name == "duckdb":
                publish_snapshot(settings, conn.connection.dbapi_connection)
    finally:
        engine.dispose()


#: Substrings of DuckDB's error when another process holds the file.
LOCK_MESSAGES = ("could not set lock", "conflicting lock")


def is_lock_error(exc: BaseException) -> bool:
    """True when ``exc`` is DuckDB refusing the file because another process holds it."""
    message = str(exc).lower()
    return any(m in message for m in LOCK_MESSAGES)


def lock_holder(exc: BaseException) -> str:
    """'PID 123 (trendcast anomalies)' from DuckDB's lock error, or 'another process' when it names none."""
    match = re.search(r"PID (\d+)", str(exc))
    if not match:
        return "another process"
    pid = match.group(1)
    try:
        command = " ".join(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split())
    except OSError:
        command = ""
    if len(command) > 80:
        command = command[:77] + "..."
    return f"PID {pid} ({command})" if command else f"PID {pid}"


def _connect_waiting(engine: Engine, settings: Settings) -> Connection:
    """``engine.connect()``, waiting up to ``duckdb_lock_wait_s`` while another process holds the DuckDB file.

    DuckDB allows one writer process and fails at once otherwise; a pipeline step that meets a short reader or a
    step finishing should wait a little, and past the wait say which process holds the file in one line.
    """
    deadline = time.monotonic() + settings.duckdb_lock_wait_s
    while True:
        try:
            return engine.connect()
        except sa.exc.DBAPIError as exc:
            if settings.warehouse != "duckdb" or not is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseLockedError(
                    f"the warehouse {settings.duckdb_file} is held by {lock_holder(exc)} (DuckDB allows one writer); "
                    f"waited {settings.duckdb_lock_wait_s:g} s - run this again when that step has finished"
                ) from None
            time.sleep(0.25)


def quote_ident(conn: Connection, name: str) -> str:
    """Quote an identifier (schema, table or column) for this dialect."""
    return conn.dialect.identifier_preparer.quote(name)


def _qualified(conn: Connection, schema: str, table: str) -> str:
    return f"{quote_ident(conn, schema)}.{quote_ident(conn, table)}"


def table_exists(conn: Connection, schema: str, table: str) -> bool:
    return sa.inspect(conn).has_table(table, schema=schema)


def list_tables(conn: Connection, schema: str) -> list[str]:
    """Tables and views of a schema (information_schema: duckdb-engine's inspector prefixes catalog names)."""
    query = sa.text("select table_name from information_schema.tables where table_schema = :schema")
    return sorted(row[0] for row in conn.execute(query, {"schema": schema}))


def row_count(conn: Connection, schema: str, table: str) -> int:
    """Rows in a table, 0 when it does not exist."""
    if not table_exists(conn, schema, table):
        return 0
    return int(conn.execute(sa.text(f"select count(*) from {_qualified(conn, schema, table)}")).scalar_one())


def append_frame(conn: Connection, schema: str, table: str, frame: pd.DataFrame) -> int:
    """Append a frame to a table that already exists, inside the caller's transaction.

    Hand-written because ``DataFrame.to_sql`` inserts row by row through duckdb-engine and
    PostgreSQL (minutes for a million rows); DuckDB scans the frame natively and PostgreSQL
    takes it through COPY.
    """
    if frame.empty:
        return 0
    target = _qualified(conn, schema, table)
    columns = ", ".join(quote_ident(conn, c) for c in frame.columns)
    dbapi = conn.connection.dbapi_connection
    if conn.dialect.name == "duckdb":
        dbapi.register("_trendcast_append", frame)
        try:
            dbapi.execute(f"insert into {target} ({columns}) select {columns} from _trendcast_append")
        finally:
            dbapi.unregister("_trendcast_append")
    else:
        # pyarrow writes CSV ~8x faster than DataFrame.to_csv; nulls come out as unquoted empty fields
        # (COPY's NULL) and empty strings as "" (COPY's empty string).
        buffer = io.BytesIO()
        pa_csv.write_csv(
            pa.Table.from_pandas(frame, preserve_index=False), buffer, pa_csv.WriteOptions(include_header=False)
        )
        buffer.seek(0)
        with dbapi.cursor() as cursor:
            cursor.copy_expert(f"copy {target} ({columns}) from stdin with (format csv)", buffer)
    return len(frame)


def replace_partition(conn: Connection, schema: str, table: str, frame: pd.DataFrame, where: Mapping[str, Any]) -> int:
    """Delete the rows matching ``where`` and append ``frame``, in the caller's transaction.

    Re-running the same partition is idempotent, and readers never see it half written.
    """
    conditions = " and ".join(f"{quote_ident(conn, k)} = :{k}" for k in where)
    conn.execute(sa.text(f"delete from {_qualified(conn, schema, table)} where {conditions}"), dict(where))
    written = append_frame(conn, schema, table, frame)
    log.info("replaced %s rows in %s.%s where %s", written, schema, table, dict(where))
    return written
