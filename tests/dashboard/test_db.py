"""Read-only connections of the dashboard: writes are refused on DuckDB and PostgreSQL alike."""

from __future__ import annotations

import duckdb
import pytest
import sqlalchemy as sa

from tests.conftest import postgres_settings
from trendcast.dashboard.db import ReadOnlyWarehouse, WarehouseMissingError, read_frame
from trendcast.settings import Settings


def test_duckdb_connections_are_read_only(settings: Settings) -> None:
    settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_file)) as con:
        con.execute("create table t as select 1 as a")
    warehouse = ReadOnlyWarehouse(settings)
    with warehouse.connection() as conn:
        assert read_frame(conn, "select a from t where a = :a", {"a": 1})["a"].tolist() == [1]
        with pytest.raises(sa.exc.DBAPIError):
            conn.execute(sa.text("insert into t values (2)"))
    warehouse.dispose()
    with duckdb.connect(str(settings.duckdb_file), read_only=True) as con:
        assert con.execute("select count(*) from t").fetchone() == (1,)


def test_same_process_writer_falls_back_to_a_read_only_transaction(settings: Settings) -> None:
    settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_file)) as writer:  # as dbt-duckdb in-process keeps it open
        writer.execute("create table t as select 1 as a")
        warehouse = ReadOnlyWarehouse(settings)
        with warehouse.connection() as conn:
            assert read_frame(conn, "select count(*) as n from t")["n"].item() == 1
            with pytest.raises(sa.exc.DBAPIError, match="read-only"):
                conn.execute(sa.text("insert into t values (2)"))
        warehouse.dispose()
        assert writer.execute("select count(*) from t").fetchone() == (1,)


def test_missing_warehouse_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(WarehouseMissingError, match="trendcast demo"), ReadOnlyWarehouse(settings).connection():
        pass


@pytest.mark.postgres
def test_postgres_connections_run_read_only_transactions() -> None:
    settings = postgres_settings("test")
    warehouse = ReadOnlyWarehouse(settings)
    try:
        with warehouse.connection() as conn:
            assert read_frame(conn, "select cast(:x as integer) + 1 as y", {"x": 41})["y"].item() == 42
            with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
                conn.execute(sa.text("create table trendcast_dashboard_must_not_exist (a int)"))
    finally:
        warehouse.dispose()


def test_segments_show_the_latest_scoring_date(settings: Settings) -> None:
    from trendcast.dashboard import queries

    settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_file)) as con:
        con.execute("create schema scores")
        con.execute(
            "create table scores.customer_segments as select * from (values "
            "(date '2024-01-01', 'c1', 'loyal'), (date '2024-01-01', 'c2', 'loyal'), "
            "(date '2024-02-01', 'c1', 'loyal'), (date '2024-02-01', 'c2', 'lapsed'), "
            "(date '2024-02-01', 'c3', 'lapsed')"
            ") t(scoring_date, customer_key, segment_name)"
        )
    warehouse = ReadOnlyWarehouse(settings)
    with warehouse.connection() as conn:
        found = queries.segments(conn, queries.available_tables(conn))
    warehouse.dispose()
    assert found == {
        "table": "scores.customer_segments",
        "rows": [{"segment": "lapsed", "customers": 2}, {"segment": "loyal", "customers": 1}],
    }
