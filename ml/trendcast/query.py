"""Read-only analyst queries (``trendcast sql``): nothing typed here can change the warehouse or the file system.

DuckDB: the query runs on the readers' published snapshot (:mod:`trendcast.snapshot`), opened ``read_only`` with
external access disabled (no COPY/EXPORT to files, no ATTACH, INSTALL or LOAD, no reading arbitrary files), so a
query never blocks or is blocked by a pipeline writer. PostgreSQL: one statement of a read-only kind, run in a
read-only transaction (production analysts should still use a read-only role).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from trendcast.exceptions import QueryError, WarehouseLockedError
from trendcast.settings import Settings, get_settings

__all__ = ["QueryResult", "read_only_query"]

log = logging.getLogger(__name__)

#: Statement kinds that only read; PostgreSQL's COPY ... TO writes server files, so it is not among them.
_READ_ONLY_KINDS = ("select", "with", "values", "table", "show", "explain", "describe", "summarize", "from")


@dataclass(frozen=True)
class QueryResult:
    """Column names, the first rows and whether the query had more rows than were fetched."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool


def _first_keyword(query: str) -> str:
    """The statement's first keyword, past comments and opening parentheses."""
    stripped = re.sub(r"(--[^\n]*\n?|/\*.*?\*/)", " ", query, flags=re.S).lstrip(" \t\r\n(")
    return stripped.split(None, 1)[0].lower() if stripped else ""


def _fetch(cursor: Any, limit: int | None) -> tuple[list[tuple[Any, ...]], bool]:
    if limit is None:
        return [tuple(row) for row in cursor.fetchall()], False
    rows = [tuple(row) for row in cursor.fetchmany(limit + 1)]
    return rows[:limit], len(rows) > limit


def _duckdb_query(query: str, settings: Settings, limit: int | None) -> QueryResult:
    import duckdb

    from trendcast.snapshot import publish_snapshot, snapshot_path

    live = settings.duckdb_file
    if not live.exists():
        raise QueryError(f"no warehouse at {live}: run `trendcast demo` (or ingest and build) first")
    publish_snapshot(settings)  # brings the snapshot up to date when no writer holds the file; else it is current
    snapshot = snapshot_path(settings)
    if not snapshot.exists():
        raise WarehouseLockedError(
            f"a pipeline step holds {live} and no snapshot of it is published yet: run this again when it finishes"
        )
    config = {"enable_external_access": False, "lock_configuration": True}
    try:
        with duckdb.connect(str(snapshot), read_only=True, config=config) as con:
            cursor = con.execute(query)
            if cursor.description is None:
                return QueryResult([], [], False)
            columns = [d[0] for d in cursor.description]
            rows, truncated = _fetch(cursor, limit)
    except duckdb.PermissionException:
        raise QueryError(
            "query refused: `trendcast sql` is read-only, for files too (no COPY/EXPORT, ATTACH, INSTALL, LOAD "
            "or file reads); export with --output FILE instead"
        ) from None
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {str(exc).splitlines()[0]}") from None
    return QueryResult(columns, rows, truncated)


def _postgres_query(query: str, settings: Settings, limit: int | None) -> QueryResult:
    from trendcast.warehouse import create_warehouse_engine

    kind = _first_keyword(query)
    if kind not in _READ_ONLY_KINDS:
        raise QueryError(
            f"query refused: `trendcast sql` runs read-only statements only ({', '.join(_READ_ONLY_KINDS)}), "
            f"not {kind or 'an empty statement'!r}; export with --output FILE instead"
        )
    engine = create_warehouse_engine(settings)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("set transaction read only")
            result = conn.exec_driver_sql(query)
            if not result.returns_rows:
                return QueryResult([], [], False)
            columns = list(result.keys())
            rows, truncated = _fetch(result, limit)
            conn.rollback()
    except sa.exc.SQLAlchemyError as exc:
        message = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise QueryError(f"query failed: {message}") from None
    finally:
        engine.dispose()
    return QueryResult(columns, rows, truncated)


def read_only_query(query: str, settings: Settings | None = None, *, limit: int | None = None) -> QueryResult:
    """Run one read-only query and return at most ``limit`` rows (all when ``None``)."""
    settings = settings or get_settings()
    if not query.strip():
        raise QueryError("empty query: pass one SQL statement, e.g. trendcast sql 'select 1'")
    if settings.warehouse == "duckdb":
        return _duckdb_query(query, settings, limit)
    return _postgres_query(query, settings, limit)
