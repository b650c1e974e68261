"""Baselines and statistical peers: SeasonalNaive, AutoETS, AutoTheta (statsforecast), all zeros, window mean.

Intervals: statsforecast models return central prediction intervals for levels 20 … 95; each level ``L`` maps to
the quantiles ``(1 - L/100) / 2`` and ``1 - (1 - L/100) / 2`` and the point forecast stands in for the median.
The all-zero and window-mean forecasts have no model of their own uncertainty: their quantiles are the empirical
quantiles of each item's in-sample residuals ``y - point`` over the last ``window`` days, added to the point
(a simple conformal band on the last window). Quantiles are clipped at zero (demand is non-negative); point
forecasts are left as the model gives them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from trendcast.forecasting.frames import ID_COL, TARGET_COL, TIME_COL, future_frame, validate_series_frame
from trendcast.forecasting.models.base import QUANTILES, enforce_monotone, forecast_columns, quantile_column

__all__ = [
    "StatsForecastModel",
    "seasonal_naive",
    "auto_ets",
    "auto_theta",
    "ZeroForecast",
    "WindowMean",
]

logger = logging.getLogger(__name__)

_LEVELS = (20, 40, 60, 80, 90, 95)


def _default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


class StatsForecastModel:
    """Wrap one statsforecast model (built by ``factory``) as a :class:`Forecaster` with quantile output."""

    def __init__(self, name: str, factory: Callable[[], Any], *, n_jobs: int | None = None) -> None:
        self.name = name
        self.factory = factory
        self.n_jobs = n_jobs or _default_jobs()
        self._history: pd.DataFrame | None = None

    def fit(self, df: pd.DataFrame) -> StatsForecastModel:
        """Keep the history; statsforecast fits and forecasts in one pass in :meth:`predict` (its fast path)."""
        validate_series_frame(df)
        # any extra column would be read as an exogenous regressor
        self._history = df[[ID_COL, TIME_COL, TARGET_COL]]
        return self

    def predict(self, h: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        from statsforecast import StatsForecast

        if self._history is None:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        model = self.factory()
        sf = StatsForecast(models=[model], freq="D", n_jobs=self.n_jobs)
        raw = sf.forecast(df=self._history, h=h, level=list(_LEVELS))
        alias = str(model)
        out = raw[[ID_COL, TIME_COL]].copy()
        out["y_hat"] = raw[alias].to_numpy(dtype=float)
        for q in QUANTILES:
            if q == 0.5:
                values = out["y_hat"].to_numpy()
            else:
                level = round(abs(1 - 2 * q) * 100)
                side = "lo" if q < 0.5 else "hi"
                values = raw[f"{alias}-{side}-{level}"].to_numpy(dtype=float)
            out[quantile_column(q)] = np.clip(values, 0.0, None)
        return enforce_monotone(out)[forecast_columns()]


def seasonal_naive(season_length: int = 7, *, n_jobs: int | None = None) -> StatsForecastModel:
    """statsforecast ``SeasonalNaive``: each day repeats the same weekday of the last week."""
    from statsforecast.models import SeasonalNaive

    return StatsForecastModel("SeasonalNaive", lambda: SeasonalNaive(season_length=season_length), n_jobs=n_jobs)


def auto_ets(season_length: int = 7, *, n_jobs: int | None = None) -> StatsForecastModel:
    """statsforecast ``AutoETS`` with a weekly season."""
    from statsforecast.models import AutoETS

    return StatsForecastModel("AutoETS", lambda: AutoETS(season_length=season_length), n_jobs=n_jobs)


def auto_theta(season_length: int = 7, *, n_jobs: int | None = None) -> StatsForecastModel:
    """statsforecast ``AutoTheta`` with a weekly season."""
    from statsforecast.models import AutoTheta

    return StatsForecastModel("AutoTheta", lambda: AutoTheta(season_length=season_length), n_jobs=n_jobs)


class _WindowBaseline:
    """Shared logic: a per-item point forecast plus empirical residual quantiles of the last ``window`` days."""

    name = "window"

    def __init__(self, window: int = 28) -> None:
        self.window = window
        self._last: pd.DataFrame | None = None

    def _point(self, recent: pd.DataFrame) -> pd.Series:
        raise NotImplementedError

    def fit(self, df: pd.DataFrame) -> _WindowBaseline:
        validate_series_frame(df)
        df = df.sort_values([ID_COL, TIME_COL])
        self._last = df.groupby(ID_COL, observed=True, sort=True).tail(self.window)[[ID_COL, TIME_COL, TARGET_COL]]
        self._end = df.groupby(ID_COL, observed=True, sort=True)[[TIME_COL]].max().reset_index()
        return self

    def predict(self, h: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        if self._last is None:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        recent = self._last
        point = self._point(recent)
        resid = recent[TARGET_COL].to_numpy() - recent[ID_COL].map(point).to_numpy()
        resid = pd.Series(resid, index=recent[ID_COL].to_numpy())
        qs = resid.groupby(level=0, sort=True).quantile(list(QUANTILES)).unstack()
        qs.columns = [quantile_column(q) for q in qs.columns]
        qs = qs.add(point.reindex(qs.index), axis=0).clip(lower=0.0)
        out = future_frame(self._end, h)
        out["y_hat"] = out[ID_COL].map(point).to_numpy(dtype=float)
        out = out.merge(qs, left_on=ID_COL, right_index=True, how="left")
        return enforce_monotone(out)[forecast_columns()]


class ZeroForecast(_WindowBaseline):
    """Forecast zero units every day (the straw man that wins on MAE for intermittent items)."""

    name = "Zero"

    def _point(self, recent: pd.DataFrame) -> pd.Series:
        return recent.groupby(ID_COL, observed=True, sort=True)[TARGET_COL].sum() * 0.0


class WindowMean(_WindowBaseline):
    """Forecast the mean of each item's last ``window`` days (default 28)."""

    def __init__(self, window: int = 28) -> None:
        super().__init__(window)
        self.name = f"Mean{window}"

    def _point(self, recent: pd.DataFrame) -> pd.Series:
        return recent.groupby(ID_COL, observed=True, sort=True)[TARGET_COL].mean()
