"""Session-scoped dbt builds: the hand-made raw rows are built once per warehouse and shared."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.dbt.raw_fixture import duckdb_settings, load_fixture
from trendcast.dbt import DbtRunResult, build
from trendcast.settings import Settings, get_settings


def _clean_environ() -> dict[str, str]:
    """Drop a developer's TRENDCAST_* variables; the explicit Settings objects decide everything."""
    return {k: v for k, v in os.environ.items() if k.startswith("TRENDCAST_") and k != "TRENDCAST_REQUIRE_SERVICES"}


@pytest.fixture(scope="session")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, DbtRunResult]]:
    """The hand-made raw rows loaded into a throwaway DuckDB and built once for the module."""
    with pytest.MonkeyPatch.context() as mp:
        for key in _clean_environ():
            mp.delenv(key)
        get_settings.cache_clear()
        settings = duckdb_settings(tmp_path_factory.mktemp("dbt_duckdb"))
        load_fixture(settings)
        result = build(settings)
        yield settings, result
    get_settings.cache_clear()


# One database per pytest-xdist worker: workers never drop each other's schemas.
PG_TEST_DATABASE = "trendcast_dbt_test_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
PG_SCHEMAS = ("raw", "seeds", "staging", "intermediate", "marts", "secrets")


def _drop_schemas(settings: Settings) -> None:
    from trendcast.warehouse import connect

    with connect(settings) as conn:
        for schema in PG_SCHEMAS:
            conn.exec_driver_sql(f'drop schema if exists "{schema}" cascade')


@pytest.fixture(scope="session")
def postgres_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, DbtRunResult]]:
    """The same raw rows built on PostgreSQL, in a database of its own so parallel suites never share schemas.

    The database is created on first use (local server: trust auth); the schemas are dropped before and after.
    """
    import sqlalchemy as sa

    from tests.conftest import skip_or_fail
    from tests.dbt.raw_fixture import SALT

    with pytest.MonkeyPatch.context() as mp:
        for key in _clean_environ():
            mp.delenv(key)
        get_settings.cache_clear()
        state = tmp_path_factory.mktemp("dbt_postgres")
        admin = Settings(state_dir=state, warehouse="postgres", pg_database="postgres")
        try:
            engine = sa.create_engine(admin.sqlalchemy_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                exists = conn.exec_driver_sql(
                    "select 1 from pg_database where datname = %s", (PG_TEST_DATABASE,)
                ).scalar()
                if not exists:
                    conn.exec_driver_sql(f'create database "{PG_TEST_DATABASE}"')
            engine.dispose()
        except Exception as exc:  # noqa: BLE001 - any failure here means "no usable server"
            skip_or_fail(f"PostgreSQL not reachable at {admin.pg_host}:{admin.pg_port}: {exc}")
        settings = Settings(
            state_dir=state, warehouse="postgres", pg_database=PG_TEST_DATABASE, pseudonymisation_salt=SALT
        )
        _drop_schemas(settings)
        try:
            load_fixture(settings)
            yield settings, build(settings)
        finally:
            _drop_schemas(settings)
    get_settings.cache_clear()
