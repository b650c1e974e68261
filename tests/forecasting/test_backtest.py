"""Rolling-origin backtest: folds, leakage, output layout."""

from __future__ import annotations

import pandas as pd

from trendcast.forecasting.backtest import backtest_splits, default_cutoffs, rolling_origin_backtest
from trendcast.forecasting.models.base import forecast_columns
from trendcast.forecasting.models.baselines import WindowMean


class Spy(WindowMean):
    """Records the last training day it saw at each fit."""

    def __init__(self) -> None:
        super().__init__(28)
        self.name = "Spy"
        self.seen: list[pd.Timestamp] = []

    def fit(self, df: pd.DataFrame) -> Spy:
        self.seen.append(df["ds"].max())
        return super().fit(df)


def test_default_cutoffs_end_one_horizon_before_the_data(panel: pd.DataFrame) -> None:
    cuts = default_cutoffs(panel, horizon=28, n_folds=3)
    last = panel["ds"].max()
    assert cuts == [last - pd.Timedelta(days=d) for d in (84, 56, 28)]
    assert default_cutoffs(panel, horizon=14, n_folds=2, step=7)[-1] == last - pd.Timedelta(days=14)


def test_splits_do_not_leak(panel: pd.DataFrame) -> None:
    cuts = default_cutoffs(panel, horizon=28, n_folds=3)
    for cutoff, train, valid in backtest_splits(panel, cuts, horizon=28):
        assert train["ds"].max() == cutoff
        assert valid["ds"].min() == cutoff + pd.Timedelta(days=1)
        assert valid["ds"].max() == cutoff + pd.Timedelta(days=28)


def test_backtest_fits_only_on_history_and_returns_long_forecasts(panel: pd.DataFrame) -> None:
    spy = Spy()
    res = rolling_origin_backtest(panel, [spy, WindowMean(7)], horizon=14, n_folds=2, step=7)
    assert spy.seen == res.cutoffs
    fc = res.forecasts
    assert list(fc.columns) == ["unique_id", "ds", "cutoff", "model", "y", *forecast_columns()[2:]]
    assert (fc["ds"] > fc["cutoff"]).all()
    assert ((fc["ds"] - fc["cutoff"]).dt.days <= 14).all()
    assert len(fc) == 2 * 2 * 14 * panel["unique_id"].nunique()
    assert set(res.timings["model"]) == {"Spy", "Mean7"}
    # y in the forecast frame is the actual of that day
    merged = fc.merge(panel, on=["unique_id", "ds"], suffixes=("", "_true"))
    assert (merged["y"] == merged["y_true"]).all()
    summary = res.evaluate().summary
    assert set(summary["fold"]) == {"mean", *(f"{c:%Y-%m-%d}" for c in res.cutoffs)}


def test_explicit_cutoffs_are_used(panel: pd.DataFrame) -> None:
    cuts = ["2023-03-01", "2023-04-01"]
    res = rolling_origin_backtest(panel, [WindowMean(28)], horizon=7, cutoffs=cuts)
    assert sorted(res.forecasts["cutoff"].unique()) == [pd.Timestamp(c) for c in cuts]


class FutureSpy(WindowMean):
    """Records the columns of the ``future`` frame each predict receives."""

    def __init__(self) -> None:
        super().__init__(28)
        self.name = "FutureSpy"
        self.future_columns: list[list[str]] = []

    def predict(self, h: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        self.future_columns.append([] if future is None else list(future.columns))
        return super().predict(h, future)


def test_history_only_columns_never_reach_predict(panel: pd.DataFrame) -> None:
    """Orders per day are known only up to the cutoff: the backtest passes price to predict, never n_orders."""
    frame = panel.assign(price=2.5, n_orders=(panel["y"] > 0).astype(float))
    spy = FutureSpy()
    rolling_origin_backtest(frame, [spy], horizon=7, n_folds=2)
    assert spy.future_columns == [["unique_id", "ds", "price"]] * 2
