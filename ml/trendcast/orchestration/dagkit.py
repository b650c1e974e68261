"""What the DAG files share: default args (retries, timeouts, failure emails), the raw-data Asset, dbt groups.

Airflow and Cosmos are imported inside the functions; the DAG files call them at parse time, which costs no
database query, no connection and no dbt invocation (Cosmos renders from a prebuilt manifest).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from trendcast.orchestration.environment import MANIFEST_ENV, WAREHOUSE_POOL
from trendcast.settings import DBT_PROJECT_DIR

__all__ = [
    "OWNER",
    "CONSUMER_MARTS",
    "RAW_DATA_URI",
    "default_args",
    "raw_data_asset",
    "manifest_path",
    "dbt_task_group",
    "release_after_dbt",
]

OWNER = "trendcast"
RAW_DATA_URI = "trendcast://warehouse/raw"
CONSUMER_MARTS = "path:models/marts/consumer"


def default_args(**overrides: Any) -> dict[str, Any]:
    """Retries with exponential back-off, a timeout, the warehouse pool and the failure email for every task."""
    from trendcast.alerts import on_task_failure

    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": dt.timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=10),
        "execution_timeout": dt.timedelta(minutes=30),
        "pool": WAREHOUSE_POOL,
        "on_failure_callback": on_task_failure,
    }
    args.update(overrides)
    return args


def raw_data_asset() -> Any:
    """The Asset the ingest DAG emits when new raw rows landed; the daily DAG is scheduled on it."""
    from airflow.sdk import Asset

    return Asset(name="trendcast_raw_data", uri=RAW_DATA_URI, group="trendcast")


def manifest_path() -> Path:
    """The dbt manifest the task groups render from (``trendcast airflow setup`` writes it).

    Raises:
        FileNotFoundError: with the command that creates it (never runs ``dbt ls`` / ``dbt parse`` itself).
    """
    path = Path(os.environ.get(MANIFEST_ENV) or DBT_PROJECT_DIR / "target" / "manifest.json")
    if not path.exists():
        raise FileNotFoundError(
            f"dbt manifest not found at {path}: run `trendcast airflow setup` (it runs `dbt parse` once) "
            f"or set {MANIFEST_ENV} to an existing manifest.json"
        )
    return path


def release_after_dbt(project_dir: str, **_: Any) -> None:
    """Cosmos callback: close dbt-duckdb's connection so the next task in the same process can open the file,
    then publish what the model wrote to the readers' snapshot (:mod:`trendcast.snapshot`)."""
    from trendcast.dbt_builds import record_builds
    from trendcast.orchestration.tasks import release_dbt_connection
    from trendcast.settings import get_settings
    from trendcast.snapshot import publish_snapshot

    release_dbt_connection()
    record_builds(Path(project_dir) / "target" / "run_results.json", get_settings())  # the forecast's provenance
    publish_snapshot(get_settings())


def dbt_task_group(group_id: str, *, select: list[str] | None = None, exclude: list[str] | None = None) -> Any:
    """A Cosmos ``DbtTaskGroup``: one ``*_build`` task per model/seed (its tests run inside, as ``dbt build``)."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior

    target = os.environ.get("TRENDCAST_WAREHOUSE", "duckdb")
    manifest = manifest_path()
    project = ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR, manifest_path=manifest, project_name="trendcast", install_dbt_deps=False
    )
    # Cosmos wraps the path in an ObjectStoragePath, whose first open() loads every Airflow plugin (seconds at
    # parse time); the manifest is a local file, so a plain Path reads the same bytes without that.
    project.manifest_path = manifest
    return DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        profile_config=ProfileConfig(
            profile_name="trendcast", target_name=target, profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml"
        ),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            select=select or [],
            exclude=exclude or [],
            emit_datasets=False,
            should_detach_multiple_parents_tests=True,
        ),
        operator_args={"install_deps": False, "callback": release_after_dbt},
        default_args=default_args(),
    )
