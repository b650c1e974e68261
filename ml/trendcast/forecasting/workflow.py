"""The forecasting steps the CLI and the DAGs call: backtest, train (register + promote), forecast, trends.

Each step reads the feature mart through :mod:`trendcast.forecasting.data`, so it runs the same on DuckDB and
PostgreSQL, and each is one Airflow task and one ``trendcast`` sub-command.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from trendcast.forecasting.backtest import BacktestResult, rolling_origin_backtest
from trendcast.forecasting.catalog import build_models
from trendcast.forecasting.data import data_cutoff, load_item_daily_sales
from trendcast.forecasting.frames import ID_COL, TARGET_COL, TIME_COL
from trendcast.forecasting.metrics import Evaluation
from trendcast.forecasting.models.base import Forecaster
from trendcast.model_names import BASELINES, MODEL_FAMILIES
from trendcast.settings import Settings, get_settings

__all__ = [
    "TARGET",
    "BASELINES",
    "MODEL_FAMILIES",
    "build_models",
    "run_backtest",
    "leaderboard",
    "TrainReport",
    "CandidateEvaluation",
    "evaluate_candidates",
    "register_candidates",
    "decide_champion",
    "train",
    "ForecastReport",
    "forecast",
    "TrendReport",
    "trends",
]

log = logging.getLogger(__name__)

TARGET = "item_demand"


def run_backtest(
    df: pd.DataFrame,
    models: Sequence[Forecaster],
    *,
    horizon: int = 28,
    n_folds: int = 3,
    cutoffs: Sequence[pd.Timestamp | str] | None = None,
) -> tuple[BacktestResult, Evaluation]:
    """Rolling-origin backtest of ``models`` on the same folds, and its evaluation."""
    result = rolling_origin_backtest(df, models, horizon=horizon, n_folds=n_folds, cutoffs=cutoffs)
    return result, result.evaluate()


def leaderboard(result: BacktestResult, evaluation: Evaluation) -> pd.DataFrame:
    """Mean-over-folds metrics and wall times per model, best WRMSSE first."""
    board = evaluation.overall().copy()
    times = result.timings.groupby("model")[["fit_s", "predict_s"]].sum()
    board = board.join(times)
    return board.sort_values("wrmsse").reset_index()


class TrainReport(BaseModel):
    leaderboard: list[dict]
    cutoffs: list[str]
    decisions: list[dict]
    champion: str | None
    fallback: bool = False  # the champion is a baseline: no trained model passed promotion


@dataclass
class CandidateEvaluation:
    """What the backtest step hands to registration and promotion (a file between Airflow tasks)."""

    result: BacktestResult
    board: pd.DataFrame
    families: dict[str, str]  # family -> model name on the leaderboard
    baselines: list[str]

    @property
    def scored(self) -> dict[str, dict]:
        overall = self.result_evaluation.overall()
        return {name: overall.loc[name].to_dict() for name in overall.index}

    @property
    def folds(self) -> pd.DataFrame:
        summary = self.result_evaluation.summary
        return summary[summary["fold"] != "mean"]

    @cached_property
    def result_evaluation(self) -> Evaluation:
        return self.result.evaluate()

    def save(self, path: Path) -> Path:
        pd.to_pickle(self, path)
        return path

    @staticmethod
    def load(path: Path) -> CandidateEvaluation:
        return pd.read_pickle(path)


def evaluate_candidates(
    df: pd.DataFrame,
    families: Sequence[str],
    baselines: Sequence[str] = BASELINES,
    *,
    horizon: int = 28,
    n_folds: int = 3,
) -> CandidateEvaluation:
    """Step 1 of training: a rolling-origin backtest of the families beside the baselines on the same folds."""
    candidates = build_models(families)
    result, evaluation = run_backtest(df, [*build_models(baselines), *candidates], horizon=horizon, n_folds=n_folds)
    return CandidateEvaluation(
        result=result,
        board=leaderboard(result, evaluation),
        families={family: model.name for family, model in zip(families, candidates, strict=True)},
        baselines=list(baselines),
    )


def register_candidates(
    evaluation: CandidateEvaluation, df: pd.DataFrame, settings: Settings, *, horizon: int = 28
) -> dict[str, str]:
    """Step 2: fit each family on all data, log it with its backtest metrics and register it as ``@challenger``;
    returns family -> registered version."""
    from trendcast.forecasting import registry, run_log

    folds, scored, versions = evaluation.folds, evaluation.scored, {}
    for family, model_name in evaluation.families.items():
        (model,) = build_models([family])
        model.fit(df)  # the registered model is trained on all data up to the cutoff
        run_id = run_log.log_backtest_run(
            TARGET,
            model_name,
            model,
            getattr(model, "params", {"family": family}),
            folds[folds["model"] == model_name].reset_index(drop=True),
            scored[model_name],
            df,
            settings=settings,
            horizon=horizon,
        )
        versions[family] = registry.get_model_info(TARGET, run_id=run_id, settings=settings).version
        log.info("registered %s as version %s (@challenger, run %s)", model_name, versions[family], run_id)
    return versions


def decide_champion(
    evaluation: CandidateEvaluation,
    versions: dict[str, str],
    df: pd.DataFrame,
    settings: Settings,
    *,
    horizon: int = 28,
) -> TrainReport:
    """Step 3: champion / challenger on the same folds, the baseline fallback when nothing serves, and the
    evaluation stored for the dashboard (``ops.model_leaderboard``, backtest forecasts)."""
    from trendcast.forecasting import fallback, promotion, registry
    from trendcast.forecasting.evaluation_store import store_evaluation

    scored = evaluation.scored
    baseline_metrics = {name: scored[name] for name in evaluation.baselines}
    baseline_metrics.update(fallback.champion_on_folds(TARGET, scored, settings))
    decisions, rejected = [], {}
    for family, version in versions.items():
        model_name = evaluation.families[family]
        decision = promotion.promote_if_better(TARGET, version, scored[model_name], baseline_metrics, settings=settings)
        log.info("%s (version %s): %s", model_name, version, decision.reason)
        decisions.append(decision.model_dump(mode="json"))
        if not decision.promoted:
            rejected[model_name] = decision.reason
    served = fallback.serve_baseline_if_unserved(
        TARGET,
        df,
        baselines=evaluation.baselines,
        overall=scored,
        folds=evaluation.folds,
        rejected=rejected,
        horizon=horizon,
        settings=settings,
    )
    if served is not None:
        decisions.append(served.model_dump(mode="json"))
    champion = registry.get_model_info(TARGET, alias=registry.CHAMPION, settings=settings)
    result = evaluation.result
    store_evaluation(
        result, evaluation.board, decisions=decisions, champion=champion.family, target=TARGET, settings=settings
    )
    return TrainReport(
        leaderboard=json.loads(evaluation.board.to_json(orient="records")),
        cutoffs=[f"{c:%Y-%m-%d}" for c in result.cutoffs],
        decisions=decisions,
        champion=champion.family,
        fallback=champion.fallback,
    )


def train(
    settings: Settings | None = None,
    *,
    families: Sequence[str] = ("xgb",),
    baselines: Sequence[str] = BASELINES,
    horizon: int = 28,
    n_folds: int = 3,
    frame: pd.DataFrame | None = None,
) -> TrainReport:
    """Backtest the families beside the baselines, log each family to MLflow, register it as ``@challenger``
    and promote it to ``@champion`` when it beats SeasonalNaive (and the current champion) unbiased.

    When nothing serves afterwards (fresh install, every family rejected), the best baseline on the same folds
    becomes ``@champion``, labelled as a fallback (:mod:`trendcast.forecasting.fallback`). The weekly retrain DAG
    runs the same three steps as separate tasks (:mod:`trendcast.orchestration.retrain`).
    """
    settings = settings or get_settings()
    df = load_item_daily_sales(settings) if frame is None else frame
    evaluation = evaluate_candidates(df, families, baselines, horizon=horizon, n_folds=n_folds)
    versions = register_candidates(evaluation, df, settings, horizon=horizon)
    return decide_champion(evaluation, versions, df, settings, horizon=horizon)


class ForecastReport(BaseModel):
    forecast_date: date
    rows: int
    items: int
    model_name: str
    model_version: str
    mlflow_run_id: str
    family: str | None = None
    fallback: bool = False  # served by a baseline because no trained model passed promotion


def _dbt_invocation_id(settings: Settings) -> str:
    """The dbt run that built the feature mart the forecast reads (recorded by every dbt path)."""
    from trendcast.dbt_builds import latest_build

    return latest_build("ml_item_daily_sales", settings) or "unknown"


def forecast(
    settings: Settings | None = None,
    *,
    forecast_date: date | None = None,
    horizon: int = 28,
    validation_run_id: str | None = None,
) -> ForecastReport:
    """Forecast every active item ``horizon`` days after ``forecast_date`` (default: the data cutoff) with the
    ``@champion`` and write ``forecasts.item_daily_forecast`` for that date in one transaction.

    The champion's pipeline (model family, hyperparameters, features) is refitted on history up to the forecast
    date, so a daily run uses the newest data while the weekly retrain decides which pipeline serves. The refit is
    an MLflow run of its own (:mod:`trendcast.forecasting.refit_log`) whose id the forecast rows carry.
    """
    from trendcast.forecasting import fallback, registry, writeback
    from trendcast.forecasting.refit_log import log_refit

    settings = settings or get_settings()
    df = load_item_daily_sales(settings, as_of=forecast_date)
    cutoff = forecast_date or data_cutoff(df)
    df = _active_items(df, cutoff)
    model, champion = registry.load_champion(TARGET, settings)
    model.fit(df)
    # the rows name the run of this refit (its data window), the version names the pipeline (refit_log)
    info = champion.model_copy(update={"run_id": log_refit(TARGET, champion, df, cutoff, settings)})
    predictions = fallback.fill_missing_forecasts(model.predict(horizon), df, horizon)
    rows = writeback.write_forecasts(
        predictions,
        forecast_date=cutoff,
        model_info=info,
        dbt_invocation_id=_dbt_invocation_id(settings),
        validation_run_id=validation_run_id,
        settings=settings,
        horizon=horizon,
    )
    return ForecastReport(
        forecast_date=cutoff,
        rows=rows,
        items=predictions[ID_COL].nunique(),
        model_name=info.name,
        model_version=str(info.version),
        mlflow_run_id=info.run_id,
        family=info.family,
        fallback=info.fallback,
    )


def _active_items(df: pd.DataFrame, cutoff: date, window_days: int = 365) -> pd.DataFrame:
    """Items with a sale in the ``window_days`` before the cutoff: discontinued items get no forecast."""
    recent = df[df[TIME_COL] > pd.Timestamp(cutoff) - pd.Timedelta(days=window_days)]
    active = recent.loc[recent[TARGET_COL] > 0, ID_COL].unique()
    return df[df[ID_COL].isin(active)].reset_index(drop=True)


class TrendReport(BaseModel):
    as_of: date
    rows: int
    rising: int
    falling: int


def trends(settings: Settings | None = None, *, as_of: date | None = None) -> TrendReport:
    """Trend signals per item and category from recent history plus the latest forecast of ``as_of``."""
    import sqlalchemy as sa

    from trendcast.trends import compute_trend_signals, write_trend_signals
    from trendcast.warehouse import connect, table_exists

    settings = settings or get_settings()
    df = load_item_daily_sales(settings, as_of=as_of)
    day = as_of or data_cutoff(df)
    forecast_frame = None
    with connect(settings) as conn:
        if table_exists(conn, "forecasts", "item_daily_forecast"):
            forecast_frame = pd.read_sql(
                sa.text(
                    "select item_id as unique_id, target_date as ds, y_hat from forecasts.item_daily_forecast "
                    "where forecast_date = :day"
                ),
                conn,
                params={"day": day},
            )
            forecast_frame["ds"] = pd.to_datetime(forecast_frame["ds"])
    categories = df[[ID_COL, "category"]].drop_duplicates(ID_COL)
    # Orders per item-day make the trend test far less noisy than units (trendcast.trends, "significance").
    history = df[[ID_COL, TIME_COL, TARGET_COL, "n_orders"]]
    signals = compute_trend_signals(history, forecast_frame, as_of=day, categories=categories)
    rows = write_trend_signals(signals, day, settings)
    items = signals[signals["level"] == "item"]
    return TrendReport(
        as_of=day,
        rows=rows,
        rising=int((items["direction"] == "rising").sum()),
        falling=int((items["direction"] == "falling").sum()),
    )
