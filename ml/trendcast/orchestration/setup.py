"""One-time (idempotent) setup of trendcast's Airflow: dbt manifest, metadata database, warehouse pool."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from trendcast.orchestration.environment import WAREHOUSE_POOL, apply_airflow_env, manifest_file, pool_slots
from trendcast.settings import Settings, get_settings

__all__ = ["write_manifest", "migrate_metadata", "ensure_pool", "setup_airflow"]

log = logging.getLogger(__name__)


def write_manifest(settings: Settings | None = None) -> Path:
    """``dbt parse`` into the Airflow folder: the manifest Cosmos renders the dbt task groups from."""
    from trendcast import dbt

    settings = settings or get_settings()
    target = manifest_file(settings).parent
    path = dbt.parse(settings, target_dir=target)
    log.info("dbt manifest for Cosmos: %s", path)
    return path


def migrate_metadata() -> None:
    """``airflow db migrate`` in this process (configuration from the environment applied before)."""
    from airflow.utils import db

    db.upgradedb()


def ensure_pool(settings: Settings | None = None) -> int:
    """Create or resize the pool every warehouse-writing task runs in; returns its slots."""
    from airflow.models.pool import Pool

    settings = settings or get_settings()
    slots = pool_slots(settings)
    Pool.create_or_update_pool(
        WAREHOUSE_POOL,
        slots,
        f"trendcast tasks that write the {settings.warehouse} warehouse ({slots} at a time)",
        include_deferred=False,
    )
    return slots


def setup_airflow(settings: Settings | None = None, *, manifest: bool = True) -> dict[str, str]:
    """Environment, dbt manifest, metadata DB and pool; safe to run again. Returns the environment."""
    settings = settings or get_settings()
    started = time.perf_counter()
    env = apply_airflow_env(settings)
    if manifest:
        write_manifest(settings)
    migrate_metadata()
    ensure_pool(settings)
    log.info("Airflow ready in %s (%.1f s)", env["AIRFLOW_HOME"], time.perf_counter() - started)
    return env
