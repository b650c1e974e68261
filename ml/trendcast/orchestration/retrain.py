"""The weekly retrain: :func:`trendcast.forecasting.workflow.train`'s three steps as three Airflow tasks.

Each step is the function ``trendcast train`` runs (``evaluate_candidates`` -> ``register_candidates`` ->
``decide_champion``), with its own retries and log; they hand over the backtest as a file under
``<state_dir>/airflow/retrain/<key>/``. Promotion moves ``@champion`` only when the challenger wins and stores the
evaluation the dashboard's leaderboard shows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trendcast.orchestration.tasks import DAILY_FAMILIES, RETRAIN_BASELINES, release_dbt_connection
from trendcast.settings import Settings, get_settings

__all__ = [
    "RETRAIN_RECOMMENDERS",
    "work_dir",
    "backtest",
    "register",
    "promote",
    "propensity",
    "segments",
    "elasticity",
    "recommenders",
]

log = logging.getLogger(__name__)

#: Recommender families the weekly retrain trains by default; SASRec costs minutes on CPU (about 17 min on
#: Online Retail II), so it is opt-in through the DAG param ``recommender_families``.
RETRAIN_RECOMMENDERS = ("cooccurrence",)


def work_dir(key: str, settings: Settings | None = None) -> Path:
    from trendcast.orchestration.environment import airflow_home

    settings = settings or get_settings()
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)
    folder = airflow_home(settings) / "retrain" / safe
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _evaluation_file(key: str, settings: Settings) -> Path:
    return work_dir(key, settings) / "evaluation.pkl"


def backtest(
    key: str,
    settings: Settings | None = None,
    *,
    families: Sequence[str] = DAILY_FAMILIES,
    baselines: Sequence[str] = RETRAIN_BASELINES,
    n_folds: int = 3,
) -> dict[str, Any]:
    """Step 1 of :func:`trendcast.forecasting.workflow.train`: the backtest, handed on as a file."""
    from trendcast.forecasting.data import load_item_daily_sales
    from trendcast.forecasting.workflow import evaluate_candidates

    settings = settings or get_settings()
    release_dbt_connection()
    df = load_item_daily_sales(settings)
    evaluation = evaluate_candidates(df, families, baselines, horizon=settings.forecast_horizon, n_folds=n_folds)
    path = evaluation.save(_evaluation_file(key, settings))
    best = evaluation.board.iloc[0]
    cutoffs = [f"{c:%Y-%m-%d}" for c in evaluation.result.cutoffs]
    log.info("backtest cutoffs %s; best %s (WRMSSE %.3f)", cutoffs, best["model"], best["wrmsse"])
    return {"file": str(path), "cutoffs": cutoffs, "best": str(best["model"]), "models": len(evaluation.board)}


def register(key: str, settings: Settings | None = None) -> dict[str, Any]:
    """Step 2 of ``train``: fit each family on all data, log it to MLflow and register it as ``@challenger``."""
    from trendcast.forecasting.data import load_item_daily_sales
    from trendcast.forecasting.workflow import CandidateEvaluation, register_candidates

    settings = settings or get_settings()
    release_dbt_connection()
    evaluation = CandidateEvaluation.load(_evaluation_file(key, settings))
    df = load_item_daily_sales(settings)
    versions = register_candidates(evaluation, df, settings, horizon=settings.forecast_horizon)
    (work_dir(key, settings) / "registered.json").write_text(json.dumps(versions))
    return {"registered": versions}


def promote(key: str, settings: Settings | None = None) -> dict[str, Any]:
    """Step 3 of ``train``: champion / challenger, the baseline fallback when nothing serves, and the evaluation
    stored for the dashboard's leaderboard (``ops.model_leaderboard``)."""
    from trendcast.forecasting.data import load_item_daily_sales
    from trendcast.forecasting.workflow import CandidateEvaluation, decide_champion

    settings = settings or get_settings()
    release_dbt_connection()
    evaluation = CandidateEvaluation.load(_evaluation_file(key, settings))
    versions = json.loads((work_dir(key, settings) / "registered.json").read_text())
    df = load_item_daily_sales(settings)
    report = decide_champion(evaluation, versions, df, settings, horizon=settings.forecast_horizon)
    decisions = [
        {"version": d["challenger_version"], "promoted": d["promoted"], "reason": d["reason"]} for d in report.decisions
    ]
    label = " (baseline fallback)" if report.fallback else ""
    return {"decisions": decisions, "champion": f"{report.champion}{label}"}


def propensity(settings: Settings | None = None) -> dict[str, Any]:
    """Retrain the purchase-propensity model; ``@champion`` moves only when it beats the baselines and champion."""
    from trendcast.behaviour.propensity import train_propensity

    settings = settings or get_settings()
    release_dbt_connection()
    report = train_propensity(settings)
    return {
        "version": report.model_version,
        "promoted": report.promoted,
        "reason": report.reason,
        "champion_before": report.champion_version,
    }


def segments(settings: Settings | None = None) -> dict[str, Any]:
    """Refit the customer segments as of the data cutoff into scores.customer_segments, then its suite."""
    from trendcast.behaviour.segments import run_segments
    from trendcast.quality.gate import run_gate

    settings = settings or get_settings()
    release_dbt_connection()
    report = run_segments(settings)
    gate = run_gate(["scores.customer_segments"], expected_cutoff=None, settings=settings, raise_on_failure=True)
    return {
        "scoring_date": report.scoring_date.isoformat(),
        "rows": report.rows,
        "k": report.k,
        "silhouette": round(report.silhouette, 4),
        "model": f"{report.model_name} v{report.model_version}",
        "validation_run_id": gate.run_id,
    }


def elasticity(settings: Settings | None = None) -> dict[str, Any]:
    """Re-estimate price elasticities into scores.*_price_elasticity, then the category table's suite."""
    from trendcast.elasticity import run_elasticity
    from trendcast.quality.gate import run_gate

    settings = settings or get_settings()
    release_dbt_connection()
    report = run_elasticity(settings)
    gate = run_gate(
        ["scores.category_price_elasticity"], expected_cutoff=None, settings=settings, raise_on_failure=True
    )
    return {
        "scoring_date": report.scoring_date.isoformat(),
        "categories": {r.category: round(r.elasticity, 3) for r in report.categories.itertuples()},
        "items": len(report.items),
        "validation_run_id": gate.run_id,
    }


def recommenders(families: Sequence[str] = RETRAIN_RECOMMENDERS, settings: Settings | None = None) -> dict[str, Any]:
    """Evaluate and register the recommender families; ``@champion`` moves when the best one wins."""
    from trendcast.behaviour.recommendation_jobs import train_recommenders

    settings = settings or get_settings()
    release_dbt_connection()
    result = train_recommenders(settings, families=tuple(families))
    return {
        "families": list(families),
        "ndcg@10": {name: round(m["ndcg@10"], 4) for name, m in result.metrics.items()},
        "versions": result.versions,
        "champion": result.champion_version,
        "promoted": result.promoted,
        "reason": result.reason,
    }
