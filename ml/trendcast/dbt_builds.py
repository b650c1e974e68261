"""Which dbt invocation last built each model: ``ops.dbt_model_builds``, filled from dbt's run_results.json.

The forecast rows name the dbt run that built the features they read. Through Airflow every Cosmos task is its
own dbt invocation in a temporary project folder, so the state dir's run_results.json does not say; recording
each invocation's built models in the warehouse works the same for the CLI, Cosmos and several workers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import sqlalchemy as sa

from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect, table_exists

__all__ = ["record_builds", "latest_build"]

log = logging.getLogger(__name__)

_DDL = (
    "create table if not exists ops.dbt_model_builds ("
    "model varchar primary key, invocation_id varchar not null, built_at varchar)"
)


def record_builds(run_results: Path, settings: Settings | None = None) -> int:
    """Record the invocation id of every model ``run_results`` shows built successfully; returns how many."""
    try:
        results = json.loads(run_results.read_text())
    except (OSError, ValueError):
        return 0
    invocation = results.get("metadata", {}).get("invocation_id")
    built_at = results.get("metadata", {}).get("generated_at")
    models = [
        r["unique_id"].rsplit(".", 1)[-1]
        for r in results.get("results", [])
        if r.get("unique_id", "").startswith("model.") and r.get("status") == "success"
    ]
    if not invocation or not models:
        return 0
    with connect(settings or get_settings()) as conn:
        conn.execute(sa.text("create schema if not exists ops"))
        conn.execute(sa.text(_DDL))
        for model in models:
            params = {"model": model, "invocation": invocation, "at": built_at}
            conn.execute(sa.text("delete from ops.dbt_model_builds where model = :model"), params)
            conn.execute(sa.text("insert into ops.dbt_model_builds values (:model, :invocation, :at)"), params)
    log.debug("dbt invocation %s built %d models", invocation, len(models))
    return len(models)


def latest_build(model: str, settings: Settings | None = None) -> str | None:
    """The invocation id of the dbt run that last built ``model``, if one was recorded."""
    with connect(settings or get_settings()) as conn:
        if not table_exists(conn, "ops", "dbt_model_builds"):
            return None
        query = sa.text("select invocation_id from ops.dbt_model_builds where model = :model")
        return conn.execute(query, {"model": model}).scalar()
