"""The weekly retrain as three steps (backtest -> register -> promote) that hand over files, not frames.

The same rules as :func:`trendcast.forecasting.workflow.train`, split so each step is one Airflow task with its
own retries and log: the backtest writes metrics to ``<state_dir>/airflow/retrain/<key>/``, registration logs
each family to MLflow as ``@challenger``, promotion moves ``@champion`` only when the challenger wins.
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


def backtest(
    key: str,
    settings: Settings | None = None,
    *,
    families: Sequence[str] = DAILY_FAMILIES,
    baselines: Sequence[str] = RETRAIN_BASELINES,
    n_folds: int = 3,
) -> dict[str, Any]:
    """Rolling-origin backtest of the families beside the baselines; writes leaderboard and fold metrics."""
    from trendcast.forecasting.data import load_item_daily_sales
    from trendcast.forecasting.workflow import build_models, leaderboard, run_backtest

    settings = settings or get_settings()
    release_dbt_connection()
    folder = work_dir(key, settings)
    df = load_item_daily_sales(settings)
    candidates = build_models(families)
    result, evaluation = run_backtest(
        df, [*build_models(baselines), *candidates], horizon=settings.forecast_horizon, n_folds=n_folds
    )
    board = leaderboard(result, evaluation)
    overall = evaluation.overall()
    folds = evaluation.summary[evaluation.summary["fold"] != "mean"]
    folds.to_parquet(folder / "folds.parquet")
    meta = {
        "families": {family: model.name for family, model in zip(families, candidates, strict=True)},
        "baselines": list(baselines),
        "overall": {name: overall.loc[name].to_dict() for name in overall.index},
        "cutoffs": [f"{c:%Y-%m-%d}" for c in result.cutoffs],
        "leaderboard": json.loads(board.to_json(orient="records")),
    }
    (folder / "backtest.json").write_text(json.dumps(meta, indent=2, default=str))
    best = board.iloc[0]
    log.info("backtest cutoffs %s; best %s (WRMSSE %.3f)", meta["cutoffs"], best["model"], best["wrmsse"])
    return {"dir": str(folder), "cutoffs": meta["cutoffs"], "best": str(best["model"]), "models": len(board)}


def register(key: str, settings: Settings | None = None) -> dict[str, Any]:
    """Fit each family on all data, log it with its backtest metrics and register it as ``@challenger``."""
    import pandas as pd

    from trendcast.forecasting import registry, run_log
    from trendcast.forecasting.data import load_item_daily_sales
    from trendcast.forecasting.workflow import TARGET, build_models

    settings = settings or get_settings()
    release_dbt_connection()
    folder = work_dir(key, settings)
    meta = json.loads((folder / "backtest.json").read_text())
    folds = pd.read_parquet(folder / "folds.parquet")
    df = load_item_daily_sales(settings)
    versions = {}
    for family, model_name in meta["families"].items():
        (model,) = build_models([family])
        model.fit(df)
        run_id = run_log.log_backtest_run(
            TARGET,
            model_name,
            model,
            getattr(model, "params", {"family": family}),
            folds[folds["model"] == model_name].reset_index(drop=True),
            meta["overall"][model_name],
            df,
            settings=settings,
            horizon=settings.forecast_horizon,
        )
        versions[family] = registry.get_model_info(TARGET, run_id=run_id, settings=settings).version
        log.info("registered %s as version %s (@challenger, run %s)", model_name, versions[family], run_id)
    (folder / "registered.json").write_text(json.dumps(versions))
    return {"registered": versions}


def promote(key: str, settings: Settings | None = None) -> dict[str, Any]:
    """Champion / challenger: move ``@champion`` to a challenger that beats SeasonalNaive and the champion; when
    nothing serves afterwards, the best baseline becomes a fallback ``@champion``."""
    import pandas as pd

    from trendcast.exceptions import ModelNotFoundError
    from trendcast.forecasting import fallback, promotion, registry
    from trendcast.forecasting.data import load_item_daily_sales
    from trendcast.forecasting.workflow import TARGET

    settings = settings or get_settings()
    folder = work_dir(key, settings)
    meta = json.loads((folder / "backtest.json").read_text())
    versions = json.loads((folder / "registered.json").read_text())
    baseline_metrics = {name: meta["overall"][name] for name in meta["baselines"]}
    baseline_metrics.update(fallback.champion_on_folds(TARGET, meta["overall"], settings))
    decisions = []
    for family, version in versions.items():
        decision = promotion.promote_if_better(
            TARGET, version, meta["overall"][meta["families"][family]], baseline_metrics, settings=settings
        )
        log.info("%s version %s: %s", family, version, decision.reason)
        decisions.append(
            {"family": family, "version": version, "promoted": decision.promoted, "reason": decision.reason}
        )
    try:
        info = registry.get_model_info(TARGET, alias=registry.CHAMPION, settings=settings)
    except ModelNotFoundError:
        release_dbt_connection()
        rejected = {meta["families"][d["family"]]: d["reason"] for d in decisions if not d["promoted"]}
        served = fallback.serve_baseline_if_unserved(
            TARGET,
            load_item_daily_sales(settings),
            baselines=meta["baselines"],
            overall=meta["overall"],
            folds=pd.read_parquet(folder / "folds.parquet"),
            rejected=rejected,
            horizon=settings.forecast_horizon,
            settings=settings,
        )
        info = registry.get_model_info(TARGET, alias=registry.CHAMPION, settings=settings)
        decisions.append(
            {"family": info.family, "version": info.version, "promoted": True, "reason": served and served.reason}
        )
    label = " (baseline fallback)" if info.fallback else ""
    return {"decisions": decisions, "champion": f"{info.name} v{info.version} ({info.family}){label}"}


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
