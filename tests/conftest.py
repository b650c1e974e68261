"""Shared fixtures: an isolated state dir per test, and service checks that fail instead of skip in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from trendcast.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
_DATASET_CANDIDATES = [
    Path(os.environ.get("TRENDCAST_DATASET_DIR", REPO_ROOT.parent / "shared" / "datasets" / "online_retail_ii")),
    Path("/work/shared/datasets/online_retail_ii"),
]
DATASET_DIR = next((p for p in _DATASET_CANDIDATES if p.is_dir()), _DATASET_CANDIDATES[0])
REQUIRE_SERVICES = os.environ.get("TRENDCAST_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip with a reason on a developer machine; fail in CI, where every service must be present."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (TRENDCAST_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own state dir and fixed salt; a developer's .env never leaks in."""
    for key in list(os.environ):
        if key.startswith("TRENDCAST_") and key != "TRENDCAST_REQUIRE_SERVICES":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("TRENDCAST_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    monkeypatch.setenv("TRENDCAST_PSEUDONYMISATION_SALT", "test-salt-not-secret")
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings() -> Settings:
    return get_settings()


def postgres_settings(database: str = "test", *, create: bool = False) -> Settings:
    """Settings for the local PostgreSQL (``create``: make the database first when it is missing), or skip/fail
    when the server is not reachable."""
    import sqlalchemy as sa

    settings = Settings(warehouse="postgres", pg_database=database)
    try:
        if create:
            admin = sa.create_engine(
                Settings(warehouse="postgres", pg_database="postgres").sqlalchemy_url, isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                if not conn.exec_driver_sql("select 1 from pg_database where datname = %s", (database,)).scalar():
                    conn.exec_driver_sql(f'create database "{database}"')
            admin.dispose()
        engine = sa.create_engine(settings.sqlalchemy_url)
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        skip_or_fail(f"PostgreSQL not reachable at {settings.pg_host}:{settings.pg_port}/{database}: {exc}")
    return settings


@pytest.fixture
def dataset_dir() -> Path:
    if not (DATASET_DIR / "online_retail_ii_2009_2010.parquet").exists():
        pytest.skip(f"Online Retail II not found at {DATASET_DIR}")
    return DATASET_DIR


@contextmanager
def duckdb_file_held(path: Path, seconds: float = 60) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the DuckDB file read-write (as a pipeline step does) for at most ``seconds``;
    yields once the file is held and kills the holder on exit."""
    code = "import duckdb, sys, time\ncon = duckdb.connect(sys.argv[1])\nprint('held', flush=True)\n"
    code += "time.sleep(float(sys.argv[2]))\ncon.close()"
    holder = subprocess.Popen([sys.executable, "-c", code, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=10)
