"""The forecasters by name: fresh, unfitted models for a backtest, a training run or a fallback baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trendcast.forecasting.models.base import Forecaster

__all__ = ["build_models"]


def build_models(names: Sequence[str]) -> list[Forecaster]:
    """Fresh, unfitted models by name (baselines: SeasonalNaive, AutoETS, AutoTheta, Zero, Mean28;
    trendcast: xgb, lstm, transformer)."""
    from trendcast.forecasting.models import baselines

    factories: dict[str, Callable[[], Forecaster]] = {
        "SeasonalNaive": baselines.seasonal_naive,
        "AutoETS": baselines.auto_ets,
        "AutoTheta": baselines.auto_theta,
        "Zero": baselines.ZeroForecast,
        "Mean28": lambda: baselines.WindowMean(28),
        "xgb": _xgb,
        "lstm": _lstm,
        "transformer": _transformer,
    }
    unknown = [n for n in names if n not in factories]
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {sorted(factories)}")
    return [factories[n]() for n in names]


def _xgb() -> Forecaster:
    from trendcast.forecasting.models.gbm import GlobalXGBForecaster

    return GlobalXGBForecaster()


def _lstm() -> Forecaster:
    from trendcast.forecasting.models.neural import LSTMForecaster

    return LSTMForecaster()


def _transformer() -> Forecaster:
    from trendcast.forecasting.models.neural import TransformerForecaster

    return TransformerForecaster()
