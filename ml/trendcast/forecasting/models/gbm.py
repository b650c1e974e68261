"""Global XGBoost forecaster: one direct multi-horizon model over all items, with conformal quantiles.

How it forecasts. Training rows are (item, origin, step) pairs; features come from the item's history up to the
origin only (recent means over 7 … 364 days, volatility, intermittency, last year's values around the same
dates, price, item age, market level and last year's market seasonality) plus the target period's calendar. The
target is divided by the item's recent level so that one model serves items of every size, the loss is Tweedie
(log link, variance power 1.5: suits zero-inflated counts), and rows are weighted like the M5 WRMSSE (recent units /
in-sample seasonal-difference variance) times a recency factor.

* ``granularity="week"`` (default): the step is a week after the origin and the target the week's mean daily
  units; days get the market's weekday profile of the last 182 days. Seven times fewer rows than daily steps,
  and on Online Retail II item weekday profiles are too noisy to beat the market's.
* ``granularity="day"``: one row per day ahead (``features.direct_features``).

Uncertainty and bias. The model is first fitted without the last ``horizon`` days and forecasts them (a
calibration window just before the cutoff). Its errors give (a) a multiplicative bias correction (sum of actuals
/ sum of forecasts, clipped), (b) conformal quantiles: empirical quantiles of ``y / y_hat`` within bins of
``y_hat`` x intermittency, multiplied onto the final forecast. Daily units are counts with a point mass at zero, so
nominal quantiles over-cover central intervals (every zero sits inside ``[0, q900]``); the upper quantile levels are
therefore re-mapped so that ``[q100, q900]`` and ``[q025, q975]`` cover 80 % / 95 % of the calibration actuals.
With ``refit=True`` the model is then refitted on all origins; by default the calibration model is kept (one fit).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from trendcast.forecasting.features import (
    SeriesMatrix,
    direct_features,
    market_weekday_profile,
    origins_for,
    series_matrix,
    training_rows,
    weekly_features,
    weekly_training_rows,
)
from trendcast.forecasting.frames import ID_COL, TARGET_COL, TIME_COL, validate_series_frame
from trendcast.forecasting.models.base import QUANTILES, enforce_monotone, forecast_columns, quantile_column

__all__ = ["GBMParams", "GlobalXGBForecaster"]

logger = logging.getLogger(__name__)

_INDEX_COLS = ("_row", "_origin", "_t", "_w", TARGET_COL)
_LEVEL_SCALED = ("mean_", "std_", "max_28", "ly_prev", "ly_next", "ly_week", "lag_", "roll_mean_")
_GRID = np.round(np.arange(1, 200) * 0.005, 3)  # quantile levels of the conformal table


class GBMParams(BaseModel):
    """Hyperparameters of :class:`GlobalXGBForecaster` (logged to MLflow as one dict)."""

    granularity: Literal["week", "day"] = Field("week", description="training step: week means or single days")
    horizon: int = Field(28, description="days the direct model learns; predict(h) needs h <= horizon")
    origin_step: int = Field(14, description="days between training origins")
    n_origins: int = Field(26, description="training origins per fit")
    objective: str = Field("reg:tweedie", description="XGBoost objective on the level-scaled target")
    tweedie_variance_power: float = Field(1.5, description="variance power when the objective is reg:tweedie")
    n_estimators: int = Field(150, description="boosting rounds")
    learning_rate: float = Field(0.1, description="shrinkage")
    max_depth: int = Field(6, description="tree depth")
    min_child_weight: float = Field(5.0, description="minimum hessian per leaf")
    subsample: float = Field(0.8, description="row subsample per tree")
    colsample_bytree: float = Field(0.8, description="column subsample per tree")
    max_bin: int = Field(128, description="histogram bins")
    recency_halflife: float | None = Field(182.0, description="days; weight of an origin halves per half-life back")
    weighting: Literal["wrmsse", "level", "none"] = Field(
        "wrmsse", description="row weights: M5 WRMSSE weights, item level squared (plain MSE on units), or none"
    )
    level_floor: float = Field(0.1, description="floor of the item level that scales the target")
    calibrate: bool = Field(True, description="fit once without the last horizon days for bias and quantiles")
    bias_correction: bool = Field(True, description="rescale forecasts by the calibration window's sum ratio")
    bias_clip: tuple[float, float] = Field((0.85, 1.2), description="bounds of the bias factor")
    recalibrate_levels: bool = Field(True, description="re-map upper quantile levels to hit 80/95 % coverage")
    refit: bool = Field(False, description="refit on all origins after calibrating (twice the time)")
    level_bins: int = Field(12, description="conformal bins along the forecast")
    n_jobs: int = Field(2, description="XGBoost threads")
    seed: int = Field(0, description="random seed")


def _level(frame: pd.DataFrame, floor: float) -> np.ndarray:
    return np.maximum(0.5 * frame["mean_28"].to_numpy() + 0.5 * frame["mean_91"].to_numpy(), floor)


class GlobalXGBForecaster:
    """Direct multi-horizon XGBoost over all items; implements :class:`~.base.Forecaster`."""

    def __init__(self, params: GBMParams | None = None, *, name: str = "TrendcastXGB", **overrides: Any) -> None:
        base = params or GBMParams(n_jobs=max(1, min(2, os.cpu_count() or 1)))
        self.params = base.model_copy(update=overrides) if overrides else base
        self.name = name
        self._booster: Any = None
        self._matrix: SeriesMatrix | None = None
        self._features: list[str] = []
        self._scale_mse = np.ones(0)
        self.bias_factor = 1.0
        #: one entry per fit: last training day and what the calibration window chose (bias factor, re-mapped
        #: upper quantile levels), so a backtest can report how each fold was calibrated
        self.calibration_log: list[dict[str, object]] = []
        self._table: np.ndarray | None = None
        self._bin_edges = np.zeros(0)
        self._levels = np.asarray(QUANTILES)

    # ---- design matrix ---------------------------------------------------------------------------------
    def _design(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        level = _level(frame, self.params.level_floor)
        x = frame.drop(columns=[c for c in _INDEX_COLS if c in frame.columns])
        scaled = [c for c in x.columns if c.startswith(_LEVEL_SCALED)]
        x[scaled] = x[scaled].to_numpy() / level[:, None]
        x["log_level"] = np.log(level)
        return x.astype(np.float32), level

    def _weights(self, frame: pd.DataFrame, level: np.ndarray, last: int) -> np.ndarray:
        p = self.params
        w = np.ones(len(frame))
        if p.weighting == "wrmsse":
            # loss on y / level is (y - y_hat)^2 / level^2: multiply level^2 back, then WRMSSE's units / scale
            units = np.maximum(frame["mean_28"].to_numpy(), 0.0)
            w = level**2 * units / np.maximum(self._scale_mse[frame["_row"].to_numpy()], 1e-3)
        elif p.weighting == "level":
            w = level**2
        if p.recency_halflife:
            w = w * 0.5 ** ((last - frame["_origin"].to_numpy()) / p.recency_halflife)
        return w / w.mean() if w.sum() > 0 else np.ones(len(frame))

    def _train(self, m: SeriesMatrix, last: int) -> Any:
        import xgboost as xgb

        p = self.params
        origins = origins_for(m, last, horizon=p.horizon, step=p.origin_step, n_origins=p.n_origins)
        if p.granularity == "week":
            frame = weekly_training_rows(m, origins, n_weeks=-(-p.horizon // 7))
        else:
            frame = training_rows(m, origins, horizon=p.horizon)
        frame = frame[np.isfinite(frame[TARGET_COL].to_numpy())]
        x, level = self._design(frame)
        self._features = list(x.columns)
        dtrain = xgb.DMatrix(
            x, label=frame[TARGET_COL].to_numpy() / level, weight=self._weights(frame, level, last), nthread=p.n_jobs
        )
        params = {
            "objective": p.objective,
            "eta": p.learning_rate,
            "max_depth": p.max_depth,
            "min_child_weight": p.min_child_weight,
            "subsample": p.subsample,
            "colsample_bytree": p.colsample_bytree,
            "tree_method": "hist",
            "max_bin": p.max_bin,
            "nthread": p.n_jobs,
            "seed": p.seed,
        }
        if p.objective == "reg:tweedie":
            params["tweedie_variance_power"] = p.tweedie_variance_power
        logger.info("%s: training on %d rows x %d features (%d origins)", self.name, len(x), x.shape[1], len(origins))
        return xgb.train(params, dtrain, num_boost_round=p.n_estimators)

    def _forecast(self, booster: Any, m: SeriesMatrix, rows: np.ndarray, origin: np.ndarray, h: int) -> pd.DataFrame:
        """Daily point forecasts: ``_row, _t, y_hat, zero_share_28`` for steps 1 … h after each origin."""
        import xgboost as xgb

        if self.params.granularity == "week":
            n_weeks = -(-h // 7)
            frame = weekly_features(m, rows, origin, n_weeks)
            x, level = self._design(frame)
            week_mean = (
                np.clip(booster.predict(xgb.DMatrix(x[self._features], nthread=self.params.n_jobs)), 0, None) * level
            )
            profile = market_weekday_profile(m, int(origin.max()))
            steps = np.tile(np.arange(7), len(frame))
            t = np.repeat(frame["_origin"].to_numpy() + 7 * (frame["_w"].to_numpy() - 1), 7) + 1 + steps
            days = pd.DataFrame(
                {
                    "_row": np.repeat(frame["_row"].to_numpy(), 7),
                    "_t": t,
                    "_k": t - np.repeat(frame["_origin"].to_numpy(), 7),
                    "zero_share_28": np.repeat(frame["zero_share_28"].to_numpy(), 7),
                }
            )
            dow = (m.dates[0] + pd.to_timedelta(t, unit="D")).dayofweek.to_numpy()
            days["y_hat"] = np.repeat(week_mean, 7) * profile[dow]
            return days[days["_k"] <= h].drop(columns="_k").reset_index(drop=True)
        frame = direct_features(m, rows, origin, h)
        x, level = self._design(frame)
        pred = booster.predict(xgb.DMatrix(x[self._features], nthread=self.params.n_jobs))
        frame["y_hat"] = np.clip(pred, 0.0, None) * level
        return frame[["_row", "_t", "zero_share_28", "y_hat"]]

    # ---- conformal quantiles ---------------------------------------------------------------------------
    def _bins(self, y_hat: np.ndarray, zero_share: np.ndarray) -> np.ndarray:
        return np.digitize(np.log1p(y_hat), self._bin_edges) * 2 + (zero_share > 0.5).astype(int)

    def _calibrate(self, y: np.ndarray, y_hat: np.ndarray, zero_share: np.ndarray) -> None:
        p = self.params
        if p.bias_correction and y_hat.sum() > 0:
            self.bias_factor = float(np.clip(y.sum() / y_hat.sum(), *p.bias_clip))
        y_hat = y_hat * self.bias_factor
        self._bin_edges = np.unique(np.quantile(np.log1p(y_hat), np.linspace(0, 1, p.level_bins + 1)[1:-1]))
        bins = self._bins(y_hat, zero_share)
        ratio = y / np.maximum(y_hat, 1e-6)
        pooled = np.quantile(ratio, _GRID)
        table = np.tile(pooled, ((len(self._bin_edges) + 1) * 2, 1))
        for b in np.unique(bins):
            sel = ratio[bins == b]
            if len(sel) >= 50:
                table[b] = np.quantile(sel, _GRID)
        self._table = table
        levels = np.asarray(QUANTILES, dtype=float)
        if p.recalibrate_levels:
            rows = table[bins] * y_hat[:, None]

            def coverage(lo: float, hi: float) -> float:
                q_lo = rows[:, np.searchsorted(_GRID, lo)]
                q_hi = rows[:, np.searchsorted(_GRID, hi)]
                return float(((y >= q_lo) & (y <= q_hi)).mean())

            def solve(lo: float, nominal: float, target: float) -> float:
                cands = _GRID[(_GRID >= 0.5) & (_GRID <= nominal)]
                covs = np.array([coverage(lo, c) for c in cands])
                return float(cands[np.argmin(np.abs(covs - target))])

            a80 = solve(0.1, 0.9, 0.8)
            a95 = max(solve(0.025, 0.975, 0.95), a80)
            upper = levels > 0.5
            levels[upper] = np.interp(levels[upper], [0.5, 0.9, 0.975], [0.5, a80, a95])
            logger.info("%s: upper quantile levels 0.9 -> %.3f, 0.975 -> %.3f", self.name, a80, a95)
        self._levels = levels
        logger.info("%s: bias factor %.3f from %d calibration rows", self.name, self.bias_factor, len(y))

    # ---- Forecaster API --------------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame) -> GlobalXGBForecaster:
        validate_series_frame(df)
        p = self.params
        m = series_matrix(df)
        self._matrix = m
        last = int(m.last_index.max())
        d = m.values[:, 7:] - m.values[:, :-7]
        with np.errstate(invalid="ignore"):
            counts = np.sum(~np.isnan(d), axis=1)
            self._scale_mse = np.where(counts > 0, np.nansum(d**2, axis=1) / np.maximum(counts, 1), 1.0)
        self._table, self.bias_factor, self._levels = None, 1.0, np.asarray(QUANTILES)
        if not p.calibrate:
            self._booster = self._train(m, last)
            return self
        cal_last = last - p.horizon
        booster = self._train(m, cal_last)
        rows = np.flatnonzero((m.first_index <= cal_last - 28) & (m.last_index >= last))
        cal = self._forecast(booster, m, rows, np.full(len(rows), cal_last), p.horizon)
        actual = m.values[cal["_row"].to_numpy(), cal["_t"].to_numpy()]
        self._calibrate(actual, cal["y_hat"].to_numpy(), cal["zero_share_28"].to_numpy())
        self._booster = self._train(m, last) if p.refit else booster
        self.calibration_log.append(
            {
                "last_day": f"{m.dates[last]:%Y-%m-%d}",
                "calibration_days": f"{m.dates[cal_last + 1]:%Y-%m-%d}..{m.dates[last]:%Y-%m-%d}",
                "bias_factor": round(self.bias_factor, 4),
                "level_q900": round(float(self._levels[QUANTILES.index(0.9)]), 3),
                "level_q975": round(float(self._levels[QUANTILES.index(0.975)]), 3),
            }
        )
        return self

    def predict(self, h: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast ``h`` days after each item's last day; ``future`` is ignored (features come from history)."""
        if self._booster is None or self._matrix is None:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        if h > self.params.horizon:
            raise ValueError(f"{self.name} was trained for horizons up to {self.params.horizon}, asked for {h}")
        m = self._matrix
        frame = self._forecast(self._booster, m, np.arange(len(m.ids)), m.last_index, h)
        y_hat = frame["y_hat"].to_numpy() * self.bias_factor
        out = pd.DataFrame(
            {
                ID_COL: m.ids[frame["_row"].to_numpy()],
                TIME_COL: m.dates[0] + pd.to_timedelta(frame["_t"].to_numpy(), unit="D"),
                "y_hat": y_hat,
            }
        )
        if self._table is not None:
            table = self._table[self._bins(y_hat, frame["zero_share_28"].to_numpy())]
            for q, level in zip(QUANTILES, self._levels, strict=True):
                j = int(np.argmin(np.abs(_GRID - level)))
                out[quantile_column(q)] = y_hat * table[:, j]
        else:
            # no calibration window: Poisson quantiles around the point forecast
            from scipy.stats import poisson

            for q in QUANTILES:
                out[quantile_column(q)] = poisson.ppf(q, np.maximum(y_hat, 1e-9))
        return enforce_monotone(out)[forecast_columns()]
