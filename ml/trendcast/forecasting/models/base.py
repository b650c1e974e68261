"""The one interface every trendcast forecaster implements: ``fit(df)`` then ``predict(h, future)``.

Frames are long format (utilsforecast style): ``unique_id`` (str), ``ds`` (datetime64, daily), ``y`` (float)
plus optional exogenous columns. ``predict`` returns ``unique_id, ds, y_hat`` and one column per quantile in
:data:`QUANTILES`, named ``q`` + the quantile in per mille with three digits (0.025 -> ``q025``, 0.5 -> ``q500``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pandas is only needed for annotations here
    import pandas as pd

__all__ = [
    "QUANTILES",
    "Forecaster",
    "quantile_column",
    "quantile_columns",
    "level_columns",
    "enforce_monotone",
    "forecast_columns",
]

#: Quantiles every forecaster predicts. 0.1/0.9 bound the 80 % interval, 0.025/0.975 the 95 % interval.
QUANTILES: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975)


def quantile_column(q: float) -> str:
    """Column name of quantile ``q``: per mille, three digits (0.025 -> ``q025``, 0.9 -> ``q900``)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must lie in (0, 1), got {q}")
    return f"q{round(q * 1000):03d}"


def quantile_columns(quantiles: Sequence[float] = QUANTILES) -> list[str]:
    """Column names of ``quantiles`` in the same order (``q025 … q975`` for the default)."""
    return [quantile_column(q) for q in quantiles]


def level_columns(level: int) -> tuple[str, str]:
    """Lower and upper quantile columns of a central ``level`` % interval (80 -> ``q100, q900``)."""
    alpha = (100 - level) / 200
    return quantile_column(alpha), quantile_column(1 - alpha)


def forecast_columns(quantiles: Sequence[float] = QUANTILES) -> list[str]:
    """Columns a forecaster's ``predict`` returns, in order."""
    return ["unique_id", "ds", "y_hat", *quantile_columns(quantiles)]


def enforce_monotone(frame: pd.DataFrame, quantiles: Sequence[float] = QUANTILES) -> pd.DataFrame:
    """Return a copy whose quantile columns are sorted per row (crossing quantiles are untangled).

    Sorting the values per row is the rearrangement of Chernozhukov et al. (2010): it never makes the
    pinball loss worse. Columns that are absent are ignored; the input frame is not modified.
    """
    cols = [c for c in quantile_columns(quantiles) if c in frame.columns]
    out = frame.copy()
    if len(cols) > 1:
        values = out[cols].to_numpy(dtype=float, copy=True)
        out[cols] = np.sort(values, axis=1)
    return out


@runtime_checkable
class Forecaster(Protocol):
    """A model that learns from a long-format history and forecasts ``h`` days after each series' last ``ds``.

    ``fit(df)``: ``df`` has ``unique_id`` (str), ``ds`` (datetime64, daily, no gaps) and ``y`` (float), plus any
    exogenous columns the model uses. Returns ``self``.

    ``predict(h, future=None)``: returns :func:`forecast_columns` (``unique_id, ds, y_hat, q025 … q975``) for
    the ``h`` days after each series' last ``ds``; ``future`` holds the exogenous columns for those days
    (``unique_id, ds, …``) when the model uses them. Quantile columns are monotone per row
    (use :func:`enforce_monotone`).
    """

    name: str

    def fit(self, df: pd.DataFrame) -> Forecaster: ...

    def predict(self, h: int, future: pd.DataFrame | None = None) -> pd.DataFrame: ...
