"""Fixtures of the dashboard tests: one real warehouse per session, a TestClient, a live server for Chromium."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import REPO_ROOT
from tests.dashboard.warehouse_fixture import SALT, build_demo_warehouse
from trendcast.settings import Settings
from trendcast.warehouse import connect


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict]:
    """Settings of a warehouse the pipeline really wrote (generated shop, 40 k lines), and the build's report.

    ``TRENDCAST_DASHBOARD_TEST_STATE=DIR`` builds it in DIR once and reuses it on later runs (local iteration).
    """
    reuse = os.environ.get("TRENDCAST_DASHBOARD_TEST_STATE")
    if reuse:
        state = Path(reuse)
        info_file = state / "dashboard_test_build.json"
        if info_file.exists():
            return Settings(state_dir=state, pseudonymisation_salt=SALT), json.loads(info_file.read_text())
        state.mkdir(parents=True, exist_ok=True)
        settings, info = build_demo_warehouse(state)
        info_file.write_text(json.dumps(info, default=str))
        return settings, info
    return build_demo_warehouse(tmp_path_factory.mktemp("dashboard-state"))


@pytest.fixture(scope="session")
def demo_settings(demo_warehouse: tuple[Settings, dict]) -> Settings:
    return demo_warehouse[0]


def read(settings: Settings, query: str, **params: object) -> pd.DataFrame:
    """A bound query against the test warehouse."""
    with connect(settings) as conn:
        return pd.read_sql(sa.text(query), conn, params=params)


@pytest.fixture
def client(demo_settings: Settings) -> TestClient:
    from trendcast.dashboard import create_app

    return TestClient(create_app(demo_settings))


def warehouse_fingerprint(settings: Settings) -> dict[str, str]:
    """Row count and content hash of every table in the warehouse (to prove requests changed nothing)."""
    import duckdb

    out: dict[str, str] = {}
    with duckdb.connect(str(settings.duckdb_file), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            rows = con.execute(f'select * from "{schema}"."{table}" order by all').fetchall()
            out[f"{schema}.{table}"] = f"{len(rows)}:{hashlib.sha256(repr(rows).encode()).hexdigest()}"
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(demo_settings: Settings) -> Iterator[str]:
    """The dashboard served by uvicorn on a loopback port (mounted under /trendcast as in Airflow)."""
    import uvicorn
    from fastapi import FastAPI

    from trendcast.dashboard import create_app

    root = FastAPI()
    root.mount("/trendcast", create_app(demo_settings))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/trendcast"
    server.should_exit = True
    thread.join(timeout=10)


def _repo_artifacts_dir() -> Path | None:
    """``<repo>/test-artifacts`` when git ignores it (never leave untracked output in the repository)."""
    candidate = REPO_ROOT / "test-artifacts"
    try:
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", str(candidate / "dashboard" / "probe.png")],
            cwd=REPO_ROOT,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return candidate if ignored.returncode == 0 else None


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Screenshots go here; copied to ``<repo>/test-artifacts/dashboard`` afterwards when that path is ignored."""
    path = tmp_path_factory.mktemp("dashboard-artifacts")
    yield path
    target = _repo_artifacts_dir()
    if target is not None:
        shutil.copytree(path, target / "dashboard", dirs_exist_ok=True)
