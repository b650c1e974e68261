"""Rolling-origin backtest: refit every model at each cutoff and forecast the next ``horizon`` days.

Cutoff convention (as utilsforecast / statsforecast): the cutoff is the **last training day**; a fold trains on
``ds <= cutoff`` and is scored on ``cutoff < ds <= cutoff + horizon``. Forecasts come back long, one row per
(unique_id, ds, cutoff, model): ``unique_id, ds, cutoff, model, y, y_hat, q025 … q975``.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pandas as pd

from trendcast.forecasting.frames import (
    CUTOFF_COL,
    HISTORY_ONLY_COLUMNS,
    ID_COL,
    TARGET_COL,
    TIME_COL,
    validate_series_frame,
)
from trendcast.forecasting.metrics import Evaluation, evaluate
from trendcast.forecasting.models.base import Forecaster, forecast_columns

__all__ = ["BacktestResult", "default_cutoffs", "backtest_splits", "rolling_origin_backtest"]

logger = logging.getLogger(__name__)


@dataclass
class BacktestResult:
    """Forecasts of every model on every fold, wall times, and the history needed to score them."""

    forecasts: pd.DataFrame
    timings: pd.DataFrame  # model, cutoff, fit_s, predict_s (wall), cpu_s
    cutoffs: list[pd.Timestamp]
    horizon: int
    history: pd.DataFrame = field(repr=False)

    def evaluate(self, **kwargs: object) -> Evaluation:
        """Score the forecasts (see :func:`trendcast.forecasting.metrics.evaluate`)."""
        return evaluate(self.forecasts, self.history, **kwargs)  # type: ignore[arg-type]


def default_cutoffs(
    df: pd.DataFrame, *, horizon: int = 28, n_folds: int = 3, step: int | None = None
) -> list[pd.Timestamp]:
    """The last ``n_folds`` cutoffs, ``step`` days apart (default ``horizon``), the last one ``horizon`` days
    before the latest ``ds``."""
    step = horizon if step is None else step
    last = pd.Timestamp(df[TIME_COL].max()) - pd.Timedelta(days=horizon)
    return [last - pd.Timedelta(days=step * k) for k in range(n_folds - 1, -1, -1)]


def backtest_splits(
    df: pd.DataFrame, cutoffs: Sequence[pd.Timestamp | str], *, horizon: int = 28
) -> Iterator[tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame]]:
    """Yield ``(cutoff, train, valid)``: train has ``ds <= cutoff``; valid the next ``horizon`` days of the series
    that have training data."""
    for c in cutoffs:
        c = pd.Timestamp(c)
        train = df[df[TIME_COL] <= c]
        valid = df[(df[TIME_COL] > c) & (df[TIME_COL] <= c + pd.Timedelta(days=horizon))]
        valid = valid[valid[ID_COL].isin(train[ID_COL].unique())]
        yield c, train, valid


def _cpu_seconds() -> float:
    """CPU seconds used so far by this process and by its child processes that have finished."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def rolling_origin_backtest(
    df: pd.DataFrame,
    models: Sequence[Forecaster],
    *,
    horizon: int = 28,
    n_folds: int = 3,
    step: int | None = None,
    cutoffs: Sequence[pd.Timestamp | str] | None = None,
) -> BacktestResult:
    """Fit each model on each fold's training part and forecast ``horizon`` days.

    ``df`` is the long frame (``unique_id, ds, y`` plus exogenous columns, which reach ``predict`` as ``future``
    without ``y`` and without the history-only columns such as ``n_orders``). Either give explicit ``cutoffs`` or
    ``n_folds`` and ``step`` (default ``horizon``).
    Only (item, day) pairs present in ``df`` after the cutoff are scored.
    """
    validate_series_frame(df)
    cuts = (
        [pd.Timestamp(c) for c in cutoffs]
        if cutoffs is not None
        else default_cutoffs(df, horizon=horizon, n_folds=n_folds, step=step)
    )
    exog = [c for c in df.columns if c not in (ID_COL, TIME_COL, TARGET_COL, *HISTORY_ONLY_COLUMNS)]
    frames, timings = [], []
    for cutoff, train, valid in backtest_splits(df, cuts, horizon=horizon):
        future = valid[[ID_COL, TIME_COL, *exog]] if exog else None
        actual = valid[[ID_COL, TIME_COL, TARGET_COL]]
        for model in models:
            t0, c0 = time.perf_counter(), _cpu_seconds()
            model.fit(train)
            t1, c1 = time.perf_counter(), _cpu_seconds()
            pred = model.predict(horizon, future=future)
            t2, c2 = time.perf_counter(), _cpu_seconds()
            missing = set(forecast_columns()) - set(pred.columns)
            if missing:
                raise ValueError(f"{model.name} returned no {sorted(missing)}")
            pred = actual.merge(pred[forecast_columns()], on=[ID_COL, TIME_COL], how="inner")
            if len(pred) != len(actual):
                raise ValueError(
                    f"{model.name} forecast {len(pred)} of {len(actual)} (item, day) pairs at {cutoff:%Y-%m-%d}"
                )
            frames.append(pred.assign(**{CUTOFF_COL: cutoff, "model": model.name}))
            timings.append(
                {
                    "model": model.name,
                    CUTOFF_COL: cutoff,
                    "fit_s": t1 - t0,
                    "predict_s": t2 - t1,
                    # CPU seconds of this process (threads included) and of its finished worker processes
                    # (statsforecast's n_jobs pool): robust to a busy machine
                    "cpu_s": (c1 - c0) + (c2 - c1),
                }
            )
            logger.info("%s fold %s: fit %.1f s, predict %.1f s", model.name, f"{cutoff:%Y-%m-%d}", t1 - t0, t2 - t1)
    cols = [ID_COL, TIME_COL, CUTOFF_COL, "model", TARGET_COL, *forecast_columns()[2:]]
    forecasts = pd.concat(frames, ignore_index=True)[cols]
    return BacktestResult(
        forecasts=forecasts,
        timings=pd.DataFrame(timings),
        cutoffs=cuts,
        horizon=horizon,
        history=df[[ID_COL, TIME_COL, TARGET_COL]],
    )
