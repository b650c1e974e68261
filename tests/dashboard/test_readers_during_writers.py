"""Dashboard readers never make a pipeline writer fail: a reader loop runs while `trendcast` writing steps run.

DuckDB lets one process hold the file; a dashboard that opened the live warehouse (even read-only) per request
made writers fail with "Conflicting lock is held" (issue 18). The steps run as CLI processes against a copy of
the test warehouse whose snapshot was removed (a warehouse from before snapshots): readers get 503 until the
first step publishes one, then 200 with data, and every step succeeds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import REPO_ROOT
from tests.dashboard.warehouse_fixture import SALT
from trendcast.dashboard import create_app
from trendcast.settings import Settings
from trendcast.snapshot import snapshot_path

pytestmark = pytest.mark.slow

#: Writing steps, in pipeline order, then the cheap ones again.
STEPS = (["ingest"], ["build"], ["forecast"], ["trends"], ["anomalies"], ["anomalies"], ["trends"], ["anomalies"])
#: What the reader loop asks for, and how each answer shows it carries data.
READS = {
    "/api/categories": lambda body: len(body) > 0,
    "/api/trends": lambda body: len(body) > 0,
    "/api/overview": lambda body: len(body["leaderboard"]) > 0,
}


def _reader(client: TestClient, stop: threading.Event, seen: list[tuple[float, str, int, bool]]) -> None:
    while not stop.is_set():
        for path, has_data in READS.items():
            asked = time.monotonic()
            response = client.get(path)
            ok = response.status_code == 200 and has_data(response.json())
            seen.append((asked, path, response.status_code, ok))


def test_writing_steps_succeed_while_the_dashboard_reads(demo_settings: Settings, tmp_path: Path) -> None:
    state = tmp_path / "state"
    shutil.copytree(demo_settings.state_path, state, ignore=shutil.ignore_patterns("*.snapshot.duckdb", "tmp"))
    settings = Settings(state_dir=state, pseudonymisation_salt=SALT)
    assert settings.duckdb_file.exists() and not snapshot_path(settings).exists()
    env = {
        **os.environ,
        "TRENDCAST_STATE_DIR": str(state),
        "TRENDCAST_PSEUDONYMISATION_SALT": SALT,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "ml"), os.environ.get("PYTHONPATH", "")]),
    }
    client = TestClient(create_app(settings))
    stop, seen = threading.Event(), []
    reader = threading.Thread(target=_reader, args=(client, stop, seen), daemon=True)
    reader.start()
    finished: list[tuple[str, float, int, str]] = []
    try:
        for step in STEPS:
            args = [*step, str(state / "landing")] if step == ["ingest"] else step
            started = time.monotonic()
            run = subprocess.run(
                [str(Path(sys.executable).with_name("trendcast")), *args],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=600,
            )
            finished.append((step[0], time.monotonic(), run.returncode, (run.stdout + run.stderr)[-800:]))
            assert run.returncode == 0, f"{step[0]} failed while the dashboard read:\n{finished[-1][3]}"
            assert time.monotonic() - started < 300
    finally:
        stop.set()
        reader.join(timeout=30)
    assert len(seen) > 30, "the reader loop hardly ran"
    first_publish = finished[0][1]
    statuses = {(status, ok) for _, _, status, ok in seen}
    assert statuses <= {(200, True), (503, False)}, statuses
    assert all(status == 200 for at, _, status, _ in seen if at > first_publish)
    assert sum(status == 200 for _, _, status, _ in seen) > 20
