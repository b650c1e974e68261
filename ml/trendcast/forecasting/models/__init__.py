"""Forecasters behind one interface (:class:`~trendcast.forecasting.models.base.Forecaster`)."""

from __future__ import annotations

from trendcast.forecasting.models.base import (
    QUANTILES,
    Forecaster,
    enforce_monotone,
    forecast_columns,
    level_columns,
    quantile_column,
    quantile_columns,
)

__all__ = [
    "QUANTILES",
    "Forecaster",
    "enforce_monotone",
    "forecast_columns",
    "level_columns",
    "quantile_column",
    "quantile_columns",
]
