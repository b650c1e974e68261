"""Demand forecasting: long-format frames, forecasters, rolling-origin backtests and M5-style metrics."""

from __future__ import annotations

from trendcast.forecasting.backtest import BacktestResult, backtest_splits, default_cutoffs, rolling_origin_backtest
from trendcast.forecasting.frames import fill_daily_gaps, future_frame, validate_series_frame
from trendcast.forecasting.metrics import PINBALL_QUANTILES, Evaluation, evaluate
from trendcast.forecasting.models.base import (
    QUANTILES,
    Forecaster,
    enforce_monotone,
    forecast_columns,
    level_columns,
    quantile_columns,
)

__all__ = [
    "QUANTILES",
    "PINBALL_QUANTILES",
    "Forecaster",
    "BacktestResult",
    "Evaluation",
    "backtest_splits",
    "default_cutoffs",
    "enforce_monotone",
    "evaluate",
    "fill_daily_gaps",
    "forecast_columns",
    "future_frame",
    "level_columns",
    "quantile_columns",
    "rolling_origin_backtest",
    "validate_series_frame",
]
