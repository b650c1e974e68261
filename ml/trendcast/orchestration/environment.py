"""The environment of trendcast's own Airflow: AIRFLOW_HOME, metadata DB, dags/plugins folders, auth, ports.

Airflow reads its configuration when ``airflow`` is first imported, so :func:`apply_airflow_env` must run
before any Airflow import in this process; child processes (``airflow scheduler`` …) get :func:`airflow_env`.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from trendcast.settings import REPO_ROOT, Settings, get_settings

__all__ = [
    "DAGS_DIR",
    "PLUGINS_DIR",
    "WAREHOUSE_POOL",
    "ADMIN_USER",
    "airflow_home",
    "manifest_file",
    "landing_dir",
    "pool_slots",
    "admin_password",
    "airflow_env",
    "apply_airflow_env",
]

DAGS_DIR = REPO_ROOT / "dags"
PLUGINS_DIR = REPO_ROOT / "plugins"
#: The Airflow pool every task that writes the warehouse runs in (one slot on DuckDB: one writer process).
WAREHOUSE_POOL = "trendcast_warehouse"
ADMIN_USER = "admin"
#: Environment variable the DAG files read (at parse time, no Settings) to find the dbt manifest.
MANIFEST_ENV = "TRENDCAST_DBT_MANIFEST"


def airflow_home(settings: Settings) -> Path:
    return settings.state_path / "airflow"


def manifest_file(settings: Settings) -> Path:
    """Where ``trendcast airflow setup`` writes the dbt manifest Cosmos renders the task groups from."""
    return airflow_home(settings) / "dbt_manifest" / "manifest.json"


def landing_dir(settings: Settings) -> Path:
    return (settings.landing_dir or settings.state_dir / "landing").expanduser().resolve()


def pool_slots(settings: Settings) -> int:
    if settings.warehouse_pool_slots is not None:
        return settings.warehouse_pool_slots
    return 1 if settings.warehouse == "duckdb" else 4


def _secret_file(path: Path, make: Callable[[], str]) -> str:
    """Read a secret from ``path``, creating it once (mode 0600) with ``make()``."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
    return path.read_text().strip()


def admin_password(settings: Settings) -> str:
    """The local UI password of user ``admin`` (generated once into the state dir)."""
    file = airflow_home(settings) / "simple_auth_manager_passwords.json"
    _secret_file(file, lambda: json.dumps({ADMIN_USER: secrets.token_urlsafe(12)}))
    return json.loads(file.read_text())[ADMIN_USER]


def _running_file(settings: Settings) -> Path:
    return airflow_home(settings) / "api_server.json"


def record_running_port(settings: Settings, port: int | None) -> None:
    """Note the port a running ``trendcast airflow up`` serves on (``None``: it stopped)."""
    file = _running_file(settings)
    if port is None:
        file.unlink(missing_ok=True)
        return
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps({"pid": os.getpid(), "port": port}))


def running_port(settings: Settings) -> int | None:
    """The port of this state dir's running ``trendcast airflow up``, if its process is alive."""
    try:
        running = json.loads(_running_file(settings).read_text())
        os.kill(int(running["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(running["port"])


def airflow_env(
    settings: Settings | None = None,
    *,
    port: int | None = None,
    metadata_url: str | None = None,
    parallelism: int = 4,
) -> dict[str, str]:
    """``AIRFLOW__*`` variables (plus the dbt / trendcast ones tasks need) for every Airflow process."""
    settings = settings or get_settings()
    home = airflow_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    port = port or running_port(settings) or settings.airflow_port
    admin_password(settings)  # creates the passwords file on first use
    jwt_secret = _secret_file(home / "jwt_secret", lambda: secrets.token_urlsafe(64))
    db_url = metadata_url or settings.airflow_metadata_url or f"sqlite:///{home / 'airflow.db'}"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
        "AIRFLOW__API__SECRET_KEY": jwt_secret[:32],
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__CATCHUP_BY_DEFAULT": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        "DO_NOT_TRACK": "1",
        MANIFEST_ENV: str(manifest_file(settings)),
        "TRENDCAST_STATE_DIR": str(settings.state_path),
        "TRENDCAST_LANDING_DIR": str(landing_dir(settings)),
        # child `trendcast airflow …` processes rebuild this environment from settings: keep them in step
        "TRENDCAST_AIRFLOW_PORT": str(port),
        "TRENDCAST_AIRFLOW_METADATA_URL": db_url,
        # dbt (Cosmos tasks) reads the warehouse from these (the salt from the table prepare_warehouse writes).
        **settings.dbt_env(),
        # task processes publish and hash with the same salt as the CLI, even one configured in a .env elsewhere
        "TRENDCAST_PSEUDONYMISATION_SALT": settings.salt(),
    }
    return env


def apply_airflow_env(settings: Settings | None = None, **kwargs: object) -> dict[str, str]:
    """Put :func:`airflow_env` into ``os.environ`` (call before importing Airflow in this process)."""
    env = airflow_env(settings, **kwargs)  # type: ignore[arg-type]
    os.environ.update(env)
    return env
