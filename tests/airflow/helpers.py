"""Airflow reads its configuration once per process, so Airflow tests run it in subprocesses with their env."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trendcast.orchestration.environment import airflow_env
from trendcast.settings import REPO_ROOT, Settings

TRENDCAST = str(Path(sys.executable).with_name("trendcast"))


def subprocess_env(settings: Settings, **extra: str) -> dict[str, str]:
    """os.environ + trendcast's Airflow environment for ``settings`` + extras (TRENDCAST_* from the fixture)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(airflow_env(settings))
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command from the repository root; print its output tail when it fails."""
    proc = subprocess.run(args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        print(proc.stdout[-6000:], proc.stderr[-6000:], sep="\n")
    return proc


def last_json(stdout: str) -> dict:
    """The last line of ``stdout`` that is a JSON object (what the helper scripts print)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON line in output:\n{stdout[-3000:]}")
