"""Start trendcast's Airflow locally (api-server, scheduler, dag-processor, triggerer) and talk to its REST API.

Used by ``trendcast airflow up`` (the UI on http://localhost:8080 with this repository's DAGs and plugins) and
by the real-scheduler test. Components are subprocesses with the environment from
:func:`trendcast.orchestration.environment.airflow_env`; their logs go to ``<airflow_home>/components/``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["COMPONENTS", "airflow_executable", "running_airflow", "wait_healthy", "AirflowApi", "log_tail"]

log = logging.getLogger(__name__)

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def airflow_executable() -> str:
    """The ``airflow`` script of this interpreter's environment (the venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("airflow")
    return str(beside) if beside.exists() else (shutil.which("airflow") or "airflow")


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_airflow(
    env: Mapping[str, str],
    *,
    port: int,
    log_dir: Path,
    components: Sequence[str] = COMPONENTS,
    host: str = "127.0.0.1",
) -> Iterator[dict[str, subprocess.Popen]]:
    """Run the Airflow components until the block ends; they are always terminated (then killed) after it."""
    log_dir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env}
    procs: dict[str, subprocess.Popen] = {}
    try:
        for component in components:
            args = [airflow_executable(), component]
            if component == "api-server":
                args += ["--host", host, "--port", str(port)]
            handle = (log_dir / f"{component}.log").open("ab")
            procs[component] = subprocess.Popen(
                args, env=full_env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
            log.info("started airflow %s (pid %s), log %s", component, procs[component].pid, handle.name)
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for component, proc in procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("airflow %s did not stop in time: killing it", component)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_healthy(base_url: str, timeout_s: float = 120, procs: Mapping[str, subprocess.Popen] | None = None) -> None:
    """Wait until the api-server answers ``/api/v2/monitor/health``; fail early when a component died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, proc in (procs or {}).items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/v2/monitor/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    raise TimeoutError(f"Airflow api-server at {base_url} not healthy after {timeout_s:.0f} s")


class AirflowApi:
    """A minimal client of Airflow's REST API (token from SimpleAuthManager, JSON in and out)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = self._post("/auth/token", {"username": username, "password": password}, auth=False)[
            "access_token"
        ]

    def _request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None
        return json.loads(payload) if payload else None

    def _post(self, path: str, body: Any, *, auth: bool = True) -> Any:
        return self._request("POST", path, body, auth=auth)

    def get(self, path: str) -> Any:
        return self._request("GET", path)

    def wait_for_dag(self, dag_id: str, timeout_s: float = 120) -> None:
        """Wait until the dag-processor has serialized ``dag_id``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                self.get(f"/api/v2/dags/{dag_id}")
                return
            except RuntimeError:
                time.sleep(1)
        raise TimeoutError(f"DAG {dag_id} not parsed after {timeout_s:.0f} s")

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, logical_date: str | None = None, conf: dict | None = None) -> str:
        run = self._post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": conf or {}})
        return run["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=200")["task_instances"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float) -> dict:
        """Poll until the run finishes (success or failed) or the timeout passes; returns the last state."""
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in ("success", "failed") or time.monotonic() > deadline:
                return run
            time.sleep(2)
