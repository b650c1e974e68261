"""Read-only, short-lived warehouse connections for the dashboard and the report.

On DuckDB they open the published snapshot (:mod:`trendcast.snapshot`), never the live warehouse file: a reader
holding the live file, even read-only, would make the next pipeline writer fail on DuckDB's lock. A snapshot is
swapped atomically after every write, so a request reads one consistent copy; requests overlapping a swap in
this process may finish on the previous copy. Before the first snapshot exists the answer is
:class:`WarehouseMissingError` (HTTP 503). PostgreSQL is read directly in a read-only transaction (MVCC).
Every call of :meth:`ReadOnlyWarehouse.connection` opens its own connection and closes it when it answers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from trendcast.exceptions import TrendcastError
from trendcast.settings import Settings
from trendcast.snapshot import snapshot_path

__all__ = ["WarehouseMissingError", "ReadOnlyWarehouse", "read_frame"]

log = logging.getLogger(__name__)


class WarehouseMissingError(TrendcastError):
    """The warehouse (or, on DuckDB, its published snapshot) does not exist yet."""


class ReadOnlyWarehouse:
    """Opens one read-only connection per call of :meth:`connection` (engines keep no pooled DuckDB connection)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None

    @property
    def kind(self) -> str:
        return self.settings.warehouse

    def _get_engine(self) -> Engine:
        if self._engine is None:
            if self.kind == "duckdb":
                self._engine = sa.create_engine(
                    f"duckdb:///{snapshot_path(self.settings)}",
                    poolclass=sa.pool.NullPool,
                    connect_args={"read_only": True},
                )
            else:
                self._engine = sa.create_engine(self.settings.sqlalchemy_url, pool_pre_ping=True, pool_size=2)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def _open(self) -> Connection:
        if self.kind == "duckdb" and not snapshot_path(self.settings).exists():
            if not self.settings.duckdb_file.exists():
                raise WarehouseMissingError(
                    f"no warehouse at {self.settings.duckdb_file}: run `trendcast demo` or ingest and build first"
                )
            raise WarehouseMissingError(
                f"no published snapshot of {self.settings.duckdb_file} yet: the next pipeline step publishes one "
                "(or run `trendcast tables`)"
            )
        conn = self._get_engine().connect()
        if self.kind != "duckdb":
            conn.exec_driver_sql("set transaction read only")
        return conn

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A read-only connection, closed (and its transaction rolled back) on exit."""
        conn = self._open()
        try:
            yield conn
        finally:
            try:
                conn.rollback()
            finally:
                conn.close()


def read_frame(
    conn: Connection, sql: str, params: Mapping[str, Any] | None = None, *, expanding: Sequence[str] = ()
) -> pd.DataFrame:
    """Run one parameterised query (``:name`` binds; ``expanding`` names bind lists for ``in :name``)."""
    statement = sa.text(sql)
    if expanding:
        statement = statement.bindparams(*(sa.bindparam(name, expanding=True) for name in expanding))
    result = conn.execute(statement, dict(params or {}))
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
