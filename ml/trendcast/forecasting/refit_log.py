"""Provenance of a daily forecast: the refit of the champion's pipeline on the newest data is an MLflow run.

The weekly retrain decides which pipeline serves (a registered model version: family, hyperparameters, features);
the daily forecast refits that pipeline on history up to the forecast date. The weights that produce the day's
forecast therefore come from the refit, not from the version's training run, so every refit is logged as its own
run in the target's experiment, tagged with the registered model version it refits and that version's training
run, with its data window and a digest of every training row. Forecast rows carry this run's id in
``mlflow_run_id`` and the champion's version in ``model_version``: the version says which pipeline, the run says
which data. The refit's weights are not stored (a day's refit is reproduced by refitting the version on the
logged window); registered versions keep theirs.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from trendcast.forecasting.frames import ID_COL, TIME_COL
from trendcast.forecasting.mlflow_session import experiment_id_for, tracking_session
from trendcast.forecasting.registry import ModelInfo
from trendcast.forecasting.run_log import log_training_dataset
from trendcast.settings import Settings

__all__ = ["REFIT_KIND", "log_refit"]

REFIT_KIND = "daily_refit"


def log_refit(
    target: str, champion: ModelInfo, train_df: pd.DataFrame, forecast_date: dt.date, settings: Settings
) -> str:
    """Log the refit of ``champion`` on ``train_df`` (history up to ``forecast_date``); return its run id."""
    import mlflow

    family = champion.family or champion.name
    tags = {
        "trendcast.kind": REFIT_KIND,
        "trendcast.target": target,
        "trendcast.registered_model": champion.name,
        "trendcast.refit_of_version": str(champion.version),
        "trendcast.refit_of_run": champion.run_id,
        "trendcast.family": family,
        "trendcast.fallback": str(champion.fallback).lower(),
    }
    params = {
        "forecast_date": forecast_date.isoformat(),
        "data_start": str(pd.Timestamp(train_df[TIME_COL].min()).date()),
        "data_end": str(pd.Timestamp(train_df[TIME_COL].max()).date()),
        "series": int(train_df[ID_COL].nunique()),
        "rows": len(train_df),
        "champion_version": str(champion.version),
    }
    with tracking_session(settings) as client:
        experiment_id = experiment_id_for(client, target, settings)
        run_name = f"refit {family} v{champion.version} {forecast_date:%Y-%m-%d}"
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
            mlflow.log_params(params)
            log_training_dataset(target, train_df)  # the same dataset record as a training run's
        return run.info.run_id
