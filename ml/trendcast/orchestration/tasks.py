"""Task bodies of the trendcast DAGs: plain functions of (settings, logical date) that call the package.

Each returns a small JSON-able dict (it becomes the task's XCom and log line). The forecast date of a daily
run comes from its logical date: the last day with data on or before it, so a backfill of a past date reads
only data up to that date and writes the same rows every time it runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa

from trendcast.settings import Settings, get_settings

__all__ = [
    "DAILY_FAMILIES",
    "RETRAIN_BASELINES",
    "BOOTSTRAP_BASELINES",
    "release_dbt_connection",
    "as_of_date",
    "ingest_landing",
    "prepare_warehouse",
    "quality_gate",
    "ensure_champion",
    "score",
    "trend_signals",
    "anomaly_digest",
    "BOOTSTRAP_RECOMMENDERS",
    "customer_propensity",
    "item_text_embeddings",
    "customer_recommendations",
]

log = logging.getLogger(__name__)

#: Families the bootstrap training and the weekly retrain register.
DAILY_FAMILIES = ("xgb",)
#: The weekly retrain backtests beside every baseline; the first (bootstrap) champion only needs the ones the
#: promotion rule reads, so a fresh install scores within minutes (AutoETS alone costs more than the rest).
RETRAIN_BASELINES = ("SeasonalNaive", "AutoETS", "Mean28", "Zero")
BOOTSTRAP_BASELINES = ("SeasonalNaive", "Mean28", "Zero")
#: The first recommender @champion a fresh install trains in the daily run: co-occurrence only (seconds);
#: SASRec (minutes on CPU) is the weekly retrain's opt-in.
BOOTSTRAP_RECOMMENDERS = ("cooccurrence",)
#: Files the ingest DAG picks up anywhere below the landing folder (other files, e.g. manifest.json, stay).
LANDING_SUFFIXES = (".csv", ".parquet", ".xlsx")


def release_dbt_connection() -> None:
    """Close a DuckDB file dbt-duckdb left open in this process (``dag.test`` runs every task in one process)."""
    from trendcast.dbt import _release_duckdb

    _release_duckdb()


def _day(logical_date: dt.datetime | dt.date | str | None) -> dt.date | None:
    if logical_date is None or logical_date == "":
        return None
    if isinstance(logical_date, str):
        return dt.datetime.fromisoformat(logical_date).date()
    return logical_date.date() if isinstance(logical_date, dt.datetime) else logical_date


def as_of_date(logical_date: dt.datetime | dt.date | str | None, settings: Settings | None = None) -> dt.date:
    """The forecast / as-of date of a run: the last day of the feature mart on or before the logical date.

    Runs without a logical date (asset-triggered or manual with ``logical_date: null``) use the newest day.

    Raises:
        SchemaContractError: when the feature mart is missing or has no day on or before the logical date.
    """
    from trendcast.exceptions import SchemaContractError
    from trendcast.warehouse import connect, table_exists

    day = _day(logical_date)
    with connect(settings) as conn:
        if not table_exists(conn, "marts", "ml_item_daily_sales"):
            raise SchemaContractError("marts.ml_item_daily_sales does not exist: the dbt task group has not run")
        query = sa.text(
            "select max(sale_date) from marts.ml_item_daily_sales where (:day is null or sale_date <= :day)"
        ).bindparams(sa.bindparam("day", type_=sa.Date))
        found = conn.execute(query, {"day": day}).scalar()
    if found is None:
        raise SchemaContractError(f"marts.ml_item_daily_sales has no day on or before {day}")
    found = found if isinstance(found, dt.date) else dt.date.fromisoformat(str(found)[:10])
    if isinstance(found, dt.datetime):
        found = found.date()
    log.info("logical date %s -> as-of date %s", day or "none (latest data)", found)
    return found


def ingest_landing(settings: Settings | None = None) -> dict[str, Any]:
    """Load every file in the landing folder that was not loaded before (content-hash batch ids)."""
    from trendcast.ingestion import ingest_paths
    from trendcast.orchestration.environment import landing_dir

    settings = settings or get_settings()
    release_dbt_connection()
    folder = landing_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in LANDING_SUFFIXES)
    results = ingest_paths(files, settings=settings) if files else []
    loaded = [r for r in results if not r.skipped]
    summary = {
        "landing_dir": str(folder),
        "files": len(results),
        "new_files": len(loaded),
        "rows_loaded": sum(r.rows_loaded for r in loaded),
        "rows_quarantined": sum(r.rows_quarantined for r in loaded),
    }
    log.info("ingest: %s", summary)
    return summary


def prepare_warehouse(settings: Settings | None = None) -> dict[str, Any]:
    """Create the write-back tables the consumer marts read as dbt sources and publish the salt table the
    staging models hash with (idempotent)."""
    from trendcast.outputs import ensure_output_tables
    from trendcast.pseudonymisation import publish_salt

    release_dbt_connection()
    ensure_output_tables(settings)
    publish_salt(settings)
    return {"write_back_tables": "ready"}


def quality_gate(settings: Settings | None = None) -> dict[str, Any]:
    """Validate raw transactions and the feature mart; raises (and sends the alert) on a blocking failure."""
    from trendcast.quality.gate import default_expected_cutoff, run_gate

    settings = settings or get_settings()
    release_dbt_connection()
    result = run_gate(
        ["raw.transactions", "marts.ml_item_daily_sales"],
        expected_cutoff=default_expected_cutoff(settings),
        settings=settings,
        raise_on_failure=True,
    )
    return {"run_id": result.run_id, "suites": len(result.suites), "warnings": len(result.warnings)}


def ensure_champion(settings: Settings | None = None) -> dict[str, Any]:
    """The ``@champion`` that scores; on a fresh install (none registered) train and promote the first one."""
    from trendcast.exceptions import ModelNotFoundError
    from trendcast.forecasting import registry, workflow

    settings = settings or get_settings()
    release_dbt_connection()
    try:
        info = registry.get_model_info(workflow.TARGET, alias=registry.CHAMPION, settings=settings)
        return {"bootstrapped": False, "champion": f"{info.name} v{info.version} ({info.family})"}
    except ModelNotFoundError:
        log.warning("no @champion registered yet: training the first one (the weekly retrain DAG keeps it fresh)")
    report = workflow.train(
        settings, families=DAILY_FAMILIES, baselines=BOOTSTRAP_BASELINES, horizon=settings.forecast_horizon
    )
    if report.champion is None:
        reasons = "; ".join(d["reason"] for d in report.decisions)
        raise ModelNotFoundError(f"bootstrap training promoted no @champion: {reasons}")
    info = registry.get_model_info(workflow.TARGET, alias=registry.CHAMPION, settings=settings)
    return {"bootstrapped": True, "champion": f"{info.name} v{info.version} ({info.family})"}


def score(
    logical_date: dt.datetime | dt.date | str | None,
    validation_run_id: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Forecast every active item as of the run's date with the champion; replaces that date's rows."""
    from trendcast.forecasting import workflow

    settings = settings or get_settings()
    release_dbt_connection()
    day = as_of_date(logical_date, settings)
    report = workflow.forecast(
        settings, forecast_date=day, horizon=settings.forecast_horizon, validation_run_id=validation_run_id
    )
    return report.model_dump(mode="json")


def trend_signals(logical_date: dt.datetime | dt.date | str | None, settings: Settings | None = None) -> dict[str, Any]:
    """Rising / falling / stable signals as of the run's date into trends.item_trend_signals."""
    from trendcast.forecasting import workflow

    release_dbt_connection()
    day = as_of_date(logical_date, settings)
    return workflow.trends(settings, as_of=day).model_dump(mode="json")


def anomaly_digest(
    logical_date: dt.datetime | dt.date | str | None, settings: Settings | None = None
) -> dict[str, Any]:
    """Anomalous item- and shop-days of the 7 days up to the run's date, and the daily digest email."""
    from trendcast.anomalies import run_daily_anomalies

    release_dbt_connection()
    day = as_of_date(logical_date, settings)
    found, delivery = run_daily_anomalies(settings, detection_date=day)
    where = None if delivery is None else str(delivery.path or delivery.server)
    return {"detection_date": day.isoformat(), "anomalies": len(found), "digest": where}


def customer_propensity(
    logical_date: dt.datetime | dt.date | str | None, settings: Settings | None = None
) -> dict[str, Any]:
    """Purchase propensity of every customer as of the run's date (the first champion trained when none is
    registered) into scores.customer_purchase_propensity, then its suite; raises on a blocking failure."""
    from trendcast.behaviour.propensity import score_propensity
    from trendcast.quality.gate import run_gate

    settings = settings or get_settings()
    release_dbt_connection()
    day = as_of_date(logical_date, settings)
    report = score_propensity(settings, scoring_date=day, train_if_missing=True)
    gate = run_gate(
        ["scores.customer_purchase_propensity"], expected_cutoff=None, settings=settings, raise_on_failure=True
    )
    return {
        "scoring_date": report.scoring_date.isoformat(),
        "rows": report.rows,
        "mean_probability": round(report.mean_probability, 4),
        "model": f"{report.model_name} v{report.model_version}",
        "validation_run_id": gate.run_id,
    }


def item_text_embeddings(settings: Settings | None = None) -> dict[str, Any]:
    """Embed the item texts not cached yet into scores.item_text_embeddings (seconds when nothing is new)."""
    from dataclasses import asdict

    from trendcast.text_embeddings import embed_item_texts

    settings = settings or get_settings()
    release_dbt_connection()
    return asdict(embed_item_texts(settings))


def customer_recommendations(
    logical_date: dt.datetime | dt.date | str | None, settings: Settings | None = None
) -> dict[str, Any]:
    """Top-k items per customer as of the run's date from the recommender ``@champion`` (on a fresh install the
    first one is trained, co-occurrence only) into scores.customer_recommendations, then its suite."""
    from trendcast.behaviour import recommendation_jobs as jobs
    from trendcast.exceptions import ModelNotFoundError
    from trendcast.quality.gate import run_gate

    settings = settings or get_settings()
    release_dbt_connection()
    day = as_of_date(logical_date, settings)
    bootstrapped = None
    try:
        fitted, info = jobs.load_champion_recommender(settings)
    except ModelNotFoundError:
        log.warning("no recommender @champion yet: training the first one (%s)", ", ".join(BOOTSTRAP_RECOMMENDERS))
        trained = jobs.train_recommenders(settings, families=BOOTSTRAP_RECOMMENDERS)
        bootstrapped = trained.reason
        fitted, info = jobs.load_champion_recommender(settings)
    rows = jobs.score_recommendations(settings, scoring_date=day, fitted=fitted, model_info=info)
    gate = run_gate(["scores.customer_recommendations"], expected_cutoff=None, settings=settings, raise_on_failure=True)
    return {
        "scoring_date": day.isoformat(),
        "rows": rows,
        "model": f"{info.name} v{info.version} ({fitted.family})",
        "bootstrapped": bootstrapped,
        "validation_run_id": gate.run_id,
    }
