"""The readers' snapshot of the DuckDB warehouse: published after committed writes only, never blocking a writer."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import duckdb_file_held
from trendcast.settings import Settings
from trendcast.snapshot import publish_snapshot, snapshot_path
from trendcast.warehouse import connect


def _rows(settings: Settings) -> int:
    with duckdb.connect(str(snapshot_path(settings)), read_only=True) as con:
        return con.execute("select count(*) from t").fetchone()[0]


def test_committed_writes_publish_and_reads_do_not(settings: Settings) -> None:
    with connect(settings) as conn:
        conn.exec_driver_sql("create table t as select range as a from range(3)")
    snapshot = snapshot_path(settings)
    assert snapshot.name == "warehouse.snapshot.duckdb" and _rows(settings) == 3
    published = snapshot.stat().st_ino
    with connect(settings) as conn:
        assert conn.exec_driver_sql("select count(*) from t").scalar_one() == 3
    assert snapshot.stat().st_ino == published  # a read publishes nothing
    assert publish_snapshot(settings) is None
    with connect(settings) as conn:
        conn.exec_driver_sql("insert into t values (3)")
    assert snapshot.stat().st_ino != published and _rows(settings) == 4
    with pytest.raises(RuntimeError), connect(settings) as conn:
        conn.exec_driver_sql("insert into t values (4)")
        raise RuntimeError("the step fails: rolled back, nothing to publish")
    assert _rows(settings) == 4
    assert sorted(p.name for p in snapshot.parent.iterdir() if "snapshot" in p.name) == [snapshot.name]


def test_a_file_held_by_another_process_is_left_to_it(settings: Settings) -> None:
    settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(settings.duckdb_file)).close()
    with duckdb_file_held(settings.duckdb_file):
        assert publish_snapshot(settings) is None and not snapshot_path(settings).exists()
    assert publish_snapshot(settings) == snapshot_path(settings)


def test_postgres_needs_no_snapshot(tmp_path) -> None:  # noqa: ANN001 - pytest's tmp_path
    assert publish_snapshot(Settings(warehouse="postgres", state_dir=tmp_path)) is None
    assert list(tmp_path.iterdir()) == []


def test_the_cosmos_dbt_callback_publishes(settings: Settings) -> None:
    from trendcast.orchestration.dagkit import release_after_dbt

    settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_file)) as con:  # as a Cosmos dbt task leaves it
        con.execute("create table t as select 1 as a")
    release_after_dbt("dbt_project")
    assert _rows(settings) == 1
