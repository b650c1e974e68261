"""Fixtures for ingest tests: a throwaway DuckDB state dir, a PostgreSQL schema, small shop files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from ingest_helpers import HEADER, write_csv

from trendcast.ingestion.schema import RAW_SCHEMA
from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at a fresh DuckDB warehouse under tmp_path."""
    monkeypatch.setenv("TRENDCAST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TRENDCAST_WAREHOUSE", "duckdb")
    monkeypatch.delenv("TRENDCAST_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("TRENDCAST_MAX_FUTURE_DAYS", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _postgres_reachable(settings: Settings) -> str | None:
    try:
        engine = sa.create_engine(settings.sqlalchemy_url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any driver error means: no server to test against
        return str(exc).splitlines()[0]
    return None


@pytest.fixture
def pg_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for the local PostgreSQL database ``test``; schema raw dropped before and after."""
    monkeypatch.setenv("TRENDCAST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TRENDCAST_WAREHOUSE", "postgres")
    monkeypatch.setenv("TRENDCAST_PG_DATABASE", "test")
    get_settings.cache_clear()
    settings = get_settings()
    problem = _postgres_reachable(settings)
    if problem is not None:
        if os.environ.get("TRENDCAST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")

    def drop() -> None:
        with connect(settings) as conn:
            conn.execute(sa.text(f"drop schema if exists {RAW_SCHEMA} cascade"))

    drop()
    yield settings
    drop()
    get_settings.cache_clear()


@pytest.fixture
def make_csv(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str, rows: Sequence[Sequence[str]], header: Sequence[str] | None = HEADER) -> Path:
        return write_csv(tmp_path / name, rows, header)

    return make
