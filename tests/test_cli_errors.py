"""Every user mistake and every trendcast error is one plain line: usage mistakes exit 2 naming the valid
alternatives, a locked warehouse waits then names its holder, a full disk says so (issues 17 and 18)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import duckdb_file_held
from trendcast import warehouse
from trendcast.cli import app
from trendcast.exceptions import WarehouseLockedError
from trendcast.settings import Settings

runner = CliRunner()


def _one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["forecast", "--date", "2024-13-45"], "'2024-13-45' does not match the formats '%Y-%m-%d'"),
        (["forecast", "--date", "yesterday"], "'yesterday' does not match"),
        (["train", "-f", "randomforest"], "'randomforest' is not one of 'xgb', 'lstm', 'transformer'"),
        (["backtest", "-m", "NotAModel"], "is not one of 'SeasonalNaive'"),
        (["backtest", "--input", "/nope.parquet"], "'/nope.parquet' does not exist"),
        (["validate", "marts.nope"], "no expectation suite for table 'marts.nope'; known: "),
        (["airflow", "run", "trendcast_nope"], "is not one of 'trendcast_ingest', 'trendcast_daily'"),
        (["sql", "--limit", "0", "select 1"], "--limit"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
    ],
)
def test_usage_mistakes_are_one_line_with_exit_code_2(args: list[str], expected: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert expected in _one_line_error(result.output)


def test_embed_rejects_an_unknown_item_before_embedding(settings: Settings) -> None:
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("create schema marts")
        conn.exec_driver_sql("create table marts.ml_item_text as select '85123A' as item_id, 'x' as description")
    started = time.perf_counter()
    result = runner.invoke(app, ["embed", "--similar-to", "NOPE"])
    assert result.exit_code == 2, result.output
    assert "unknown item 'NOPE'" in _one_line_error(result.output)
    assert time.perf_counter() - started < 30  # the text model was never loaded


@pytest.mark.parametrize("name", ["[/]", "[bold red]HIDDEN[/] 5"])
def test_error_text_is_never_read_as_markup(name: str) -> None:
    result = runner.invoke(app, ["validate", name])
    assert result.exit_code == 2, result.output
    assert f"no expectation suite for table {name!r}" in _one_line_error(result.output)


def _make_warehouse(settings: Settings) -> None:
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("create table main.sales as select range as day, range * 2 as units from range(5)")


def test_a_writer_waits_for_a_short_holder_then_succeeds(settings: Settings) -> None:
    _make_warehouse(settings)
    with duckdb_file_held(settings.duckdb_file, seconds=1.5):
        with warehouse.connect(settings.model_copy(update={"duckdb_lock_wait_s": 20})) as conn:
            conn.exec_driver_sql("insert into main.sales values (9, 18)")
    with warehouse.connect(settings) as conn:
        assert conn.exec_driver_sql("select count(*) from main.sales").scalar_one() == 6


def test_a_writer_held_out_past_the_wait_names_the_holder(settings: Settings, monkeypatch) -> None:
    _make_warehouse(settings)
    with duckdb_file_held(settings.duckdb_file) as holder:
        with pytest.raises(WarehouseLockedError, match=rf"held by PID {holder.pid} \(.*python.*\).*waited 0.5 s"):
            with warehouse.connect(settings.model_copy(update={"duckdb_lock_wait_s": 0.5})):
                pass
        monkeypatch.setenv("TRENDCAST_DUCKDB_LOCK_WAIT_S", "0.5")
        from trendcast.settings import get_settings

        get_settings.cache_clear()
        result = runner.invoke(app, ["anomalies"])
        assert result.exit_code == 1, result.output
        assert f"held by PID {holder.pid}" in _one_line_error(result.output)


def test_sql_reads_the_snapshot_while_a_writer_holds_the_warehouse(settings: Settings) -> None:
    _make_warehouse(settings)
    with duckdb_file_held(settings.duckdb_file):
        result = runner.invoke(app, ["sql", "--format", "csv", "select day, units from main.sales order by day"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["day,units", "0,0", "1,2", "2,4", "3,6", "4,8"]


def test_sql_formats_limits_and_exports(settings: Settings, tmp_path: Path) -> None:
    import json

    _make_warehouse(settings)
    result = runner.invoke(app, ["sql", "-f", "json", "--limit", "2", "select * from main.sales order by day"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"day": 0, "units": 0}, {"day": 1, "units": 2}]
    assert "showing the first 2" in result.stderr
    out = tmp_path / "sales.csv"
    result = runner.invoke(app, ["sql", "--output", str(out), "select * from main.sales order by day"])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == "day,units" and len(out.read_text().splitlines()) == 6
    table = runner.invoke(app, ["sql", "select '[bold]x[/]' as cell"])
    assert "[bold]x[/]" in table.stdout


@pytest.mark.parametrize(
    "query",
    [
        "copy (select * from main.sales) to '{out}'",
        "export database '{dir}'",
        "select * from read_csv('/etc/passwd')",
        "attach '{dir}/other.duckdb' as other",
        "install httpfs",
    ],
)
def test_sql_cannot_touch_the_file_system(settings: Settings, tmp_path: Path, query: str) -> None:
    _make_warehouse(settings)
    out, folder = tmp_path / "leak.csv", tmp_path / "export"
    result = runner.invoke(app, ["sql", query.format(out=out, dir=folder)])
    assert result.exit_code == 1, result.output
    assert "read-only" in _one_line_error(result.output)
    assert not out.exists()
    assert not (folder / "other.duckdb").exists()
    assert not list(folder.glob("*.csv")) if folder.exists() else True


def test_sql_on_postgres_refuses_copy_to_a_file(tmp_path: Path, monkeypatch) -> None:
    from tests.conftest import postgres_settings
    from trendcast.exceptions import QueryError
    from trendcast.query import read_only_query

    settings = postgres_settings()
    out = tmp_path / "leak.csv"
    with pytest.raises(QueryError, match="read-only statements only"):
        read_only_query(f"copy (select 1) to '{out}'", settings)
    assert not out.exists()
    assert read_only_query("select 1 as one", settings).rows == [(1,)]
    with pytest.raises(QueryError, match="read-only transaction"):
        read_only_query("with x as (select 1) delete from pg_catalog.pg_description where false", settings)


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 3 MB tmpfs (root only; skipped where the machine does not allow mounting)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_is_one_line(tiny_disk: Path, monkeypatch, tmp_path: Path) -> None:
    from trendcast.settings import get_settings

    monkeypatch.setenv("TRENDCAST_STATE_DIR", str(tiny_disk / "state"))
    get_settings.cache_clear()
    shop = tmp_path / "shop"
    assert runner.invoke(app, ["generate", str(shop), "--lines", "60000", "--days", "120"]).exit_code == 0
    result = runner.invoke(app, ["ingest", str(shop)])
    assert result.exit_code == 1, result.output
    assert "the disk is full" in _one_line_error(result.output)
