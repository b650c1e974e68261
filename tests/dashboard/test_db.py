"""Read-only connections of the dashboard: writes are refused on DuckDB and PostgreSQL alike, and DuckDB readers
read the published snapshot, never the live file a writer needs."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
import sqlalchemy as sa

from tests.conftest import postgres_settings
from trendcast.dashboard.db import ReadOnlyWarehouse, WarehouseMissingError, read_frame
from trendcast.settings import Settings
from trendcast.snapshot import publish_snapshot, snapshot_path


def _make_warehouse(settings: Settings, sql: str = "create table t as select 1 as a") -> None:
    settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_file)) as con:
        con.execute(sql)
    assert publish_snapshot(settings) == snapshot_path(settings)


def test_duckdb_connections_are_read_only(settings: Settings) -> None:
    _make_warehouse(settings)
    warehouse = ReadOnlyWarehouse(settings)
    with warehouse.connection() as conn:
        assert read_frame(conn, "select a from t where a = :a", {"a": 1})["a"].tolist() == [1]
        with pytest.raises(sa.exc.DBAPIError):
            conn.execute(sa.text("insert into t values (2)"))
    warehouse.dispose()
    with duckdb.connect(str(snapshot_path(settings)), read_only=True) as con:
        assert con.execute("select count(*) from t").fetchone() == (1,)


def test_readers_and_writers_never_wait_for_each_other(settings: Settings) -> None:
    """A reader with an open connection leaves the live file to another writer process, and sees its write on
    the next connection only (each connection reads one published snapshot)."""
    _make_warehouse(settings)
    warehouse = ReadOnlyWarehouse(settings)
    writer = (
        "import sys\nfrom trendcast.settings import Settings\nfrom trendcast.warehouse import connect\n"
        "with connect(Settings(state_dir=sys.argv[1])) as conn:\n    conn.exec_driver_sql('insert into t values (2)')"
    )
    with warehouse.connection() as conn:
        subprocess.run([sys.executable, "-c", writer, str(settings.state_dir)], check=True, timeout=120)
        assert read_frame(conn, "select count(*) as n from t")["n"].item() == 1
    with warehouse.connection() as conn:
        assert read_frame(conn, "select count(*) as n from t")["n"].item() == 2
    warehouse.dispose()


def test_a_missing_warehouse_or_snapshot_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(WarehouseMissingError, match="trendcast demo"), ReadOnlyWarehouse(settings).connection():
        pass
    settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_file)) as con:  # built before snapshots existed: none published
        con.execute("create table t as select 1 as a")
    with pytest.raises(WarehouseMissingError, match="no published snapshot"), ReadOnlyWarehouse(settings).connection():
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

    _make_warehouse(
        settings,
        "create schema scores; create table scores.customer_segments as select * from (values "
        "(date '2024-01-01', 'c1', 'loyal'), (date '2024-01-01', 'c2', 'loyal'), "
        "(date '2024-02-01', 'c1', 'loyal'), (date '2024-02-01', 'c2', 'lapsed'), "
        "(date '2024-02-01', 'c3', 'lapsed')"
        ") t(scoring_date, customer_key, segment_name)",
    )
    warehouse = ReadOnlyWarehouse(settings)
    with warehouse.connection() as conn:
        found = queries.segments(conn, queries.available_tables(conn))
    warehouse.dispose()
    assert found == {
        "table": "scores.customer_segments",
        "rows": [{"segment": "lapsed", "customers": 2}, {"segment": "loyal", "customers": 1}],
    }


def test_the_gate_row_shows_the_gates_run_not_a_later_score_suite(settings: Settings) -> None:
    from trendcast.dashboard import queries

    _make_warehouse(
        settings,
        "create schema ops; create table ops.dq_runs as select * from (values "
        "('gate-1', 'raw.transactions', timestamp '2024-02-01 10:00', timestamp '2024-02-01 10:01', true, 900), "
        "('gate-1', 'marts.ml_item_daily_sales', timestamp '2024-02-01 10:01', timestamp '2024-02-01 10:02', "
        "false, 700), "
        "('recs-1', 'scores.customer_recommendations', timestamp '2024-02-01 11:00', "
        "timestamp '2024-02-01 11:01', true, 50)"
        ") t(run_id, table_name, started_at, finished_at, success, n_rows)",
    )
    warehouse = ReadOnlyWarehouse(settings)
    with warehouse.connection() as conn:
        runs = queries.latest_runs(conn, queries.available_tables(conn))
    warehouse.dispose()
    gate = next(run for run in runs if run["step"] == "data-quality gate")
    assert gate["run_id"] == "gate-1" and gate["status"] == "failed"
    assert gate["detail"] == "2 suites, 1,600 rows, 1 failed"


def test_the_segments_link_leads_to_the_segments_section(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from trendcast.dashboard import create_app

    response = TestClient(create_app(settings), follow_redirects=False).get("/segments")
    assert response.status_code == 307 and response.headers["location"] == "/anomalies#segments"
