"""The Airflow plugin: Airflow's plugin manager loads it, and Airflow's own api-server app serves /trendcast/."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from trendcast.settings import Settings

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

# Runs in a fresh interpreter: Airflow reads AIRFLOW_HOME and the plugins folder once, at import.
SCRIPT = """
import json
from fastapi.testclient import TestClient
from airflow import plugins_manager
from airflow.api_fastapi.app import create_app

plugins, errors = plugins_manager._get_plugins()
plugin = next(p for p in plugins if p.name == "trendcast_dashboard")
apps, _ = plugins_manager.get_fastapi_plugins()
client = TestClient(create_app())
page = client.get("/trendcast/")
api = client.get("/trendcast/api/leaderboard")
bare = client.get("/trendcast")
print("RESULT " + json.dumps({
    "errors": errors,
    "prefixes": [a["url_prefix"] for a in apps],
    "views": plugin.external_views,
    "page_status": page.status_code,
    "page": page.text,
    "api_status": api.status_code,
    "api": api.json(),
    "js_status": client.get("/trendcast/static/plotly.min.js").status_code,
    "bare_is_airflow_spa": "trendcast" not in bare.text.lower(),
}))
"""


def test_airflow_loads_the_plugin_and_serves_the_dashboard(demo_settings: Settings, tmp_path) -> None:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API_AUTH__JWT_SECRET": "trendcast-test-" + "0" * 64,
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "TRENDCAST_STATE_DIR": str(demo_settings.state_dir),
        "TRENDCAST_PSEUDONYMISATION_SALT": "dashboard-test",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(line.removeprefix("RESULT "))
    assert not any("trendcast" in key for key in result["errors"]), result["errors"]
    assert "/trendcast" in result["prefixes"]
    assert result["views"] == [
        {
            "name": "Trend dashboard",
            "href": "/trendcast/",
            "destination": "nav",
            "category": "browse",
            "url_route": "trendcast",
        }
    ]
    assert result["page_status"] == 200
    # links point inside the mount: navigation and the locally served plotly.js
    assert 'href="/trendcast/explorer"' in result["page"] and 'src="/trendcast/static/plotly.min.js"' in result["page"]
    assert result["js_status"] == 200
    assert result["api_status"] == 200 and any(row["is_champion"] for row in result["api"])
    assert result["bare_is_airflow_spa"]
