"""Read-only, short-lived warehouse connections for the dashboard.

A long-lived DuckDB reader would block dbt and the write-back steps, so every request opens its own connection
and closes it when it answers. DuckDB files are opened ``read_only``; PostgreSQL runs a read-only transaction.
When a writer holds the DuckDB lock the open is retried briefly, then :class:`WarehouseBusyError` (HTTP 503).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from trendcast.exceptions import TrendcastError
from trendcast.settings import Settings

__all__ = ["WarehouseBusyError", "WarehouseMissingError", "ReadOnlyWarehouse", "read_frame"]

log = logging.getLogger(__name__)

#: Substrings of DuckDB errors that mean "another process holds the file": retry, then 503.
_LOCK_MESSAGES = ("could not set lock", "conflicting lock", "resource temporarily unavailable")
#: DuckDB refuses a read-only open while this process holds the file read-write (dbt in-process, tests).
_SAME_PROCESS_MESSAGE = "different configuration"


class WarehouseBusyError(TrendcastError):
    """The warehouse is locked by a writer (a pipeline step is writing); try again in a few seconds."""


class WarehouseMissingError(TrendcastError):
    """The warehouse has not been built yet."""


class ReadOnlyWarehouse:
    """Opens one read-only connection per call of :meth:`connection` (engines keep no pooled connection)."""

    def __init__(self, settings: Settings, *, retries: int = 5, retry_wait_s: float = 0.2) -> None:
        self.settings = settings
        self.retries = retries
        self.retry_wait_s = retry_wait_s
        self._engines_cache: list[Engine] = []

    @property
    def kind(self) -> str:
        return self.settings.warehouse

    def _engines(self) -> list[Engine]:
        """The read-only engine, then (DuckDB) same-process fallbacks tried in order.

        DuckDB refuses a ``read_only`` open of a file this process already holds read-write, and any open whose
        config differs from that holder's. The fallbacks join the holder's database instead (duckdb-engine's
        config, as trendcast's own engine; no config, as a plain ``duckdb.connect``); every fallback connection
        runs in a ``read only`` transaction (see :meth:`connection`).
        """
        if not self._engines_cache:
            url = self.settings.sqlalchemy_url
            if self.kind == "duckdb":
                import duckdb
                from duckdb_engine import ConnectionWrapper

                path = str(self.settings.duckdb_file)
                self._engines_cache = [
                    sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"read_only": True}),
                    sa.create_engine(url, poolclass=sa.pool.NullPool),
                    sa.create_engine(
                        url, poolclass=sa.pool.NullPool, creator=lambda: ConnectionWrapper(duckdb.connect(path))
                    ),
                ]
            else:
                self._engines_cache = [sa.create_engine(url, pool_pre_ping=True, pool_size=2)]
        return self._engines_cache

    def dispose(self) -> None:
        for engine in self._engines_cache:
            engine.dispose()

    def _open(self) -> Connection:
        import duckdb

        if self.kind == "duckdb" and not self.settings.duckdb_file.exists():
            raise WarehouseMissingError(
                f"no warehouse at {self.settings.duckdb_file}: run `trendcast demo` or ingest and build first"
            )
        engines = self._engines()
        for attempt in range(self.retries + 1):
            for index, engine in enumerate(engines):
                try:
                    conn = engine.connect()
                except (sa.exc.DBAPIError, duckdb.Error) as exc:
                    message = str(exc).lower()
                    if _SAME_PROCESS_MESSAGE in message and index + 1 < len(engines):
                        continue
                    if not any(m in message for m in _LOCK_MESSAGES):
                        raise
                    break
                if self.kind == "duckdb" and index > 0:
                    # duckdb-engine has begun a read-write transaction; swap it for a read-only one
                    conn.exec_driver_sql("rollback")
                    conn.exec_driver_sql("begin transaction read only")
                elif self.kind != "duckdb":
                    conn.exec_driver_sql("set transaction read only")
                return conn
            if attempt == self.retries:
                raise WarehouseBusyError(
                    "the warehouse is locked by a running pipeline step (DuckDB allows one writer); "
                    "the dashboard reads again as soon as it finishes - retry in a few seconds"
                )
            time.sleep(self.retry_wait_s * (attempt + 1))
        raise AssertionError("unreachable")

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
