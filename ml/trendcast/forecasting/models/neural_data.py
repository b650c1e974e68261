"""Panel arrays, calendar covariates and window sampling for the neural forecasters (numpy only, no torch).

A long frame becomes one right-aligned matrix: row ``i`` holds series ``i`` with its last observed day in
the last column, ``lookback`` zero columns on the left, and a mask that is 1 on observed days. A window is a
pair (row, end column): the ``lookback`` input days end at the end column and the ``h`` target days follow.
Calendar covariates come from one table indexed by day number, so series may end on different days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trendcast.forecasting.frames import ID_COL, TARGET_COL, TIME_COL, fill_daily_gaps, validate_series_frame

__all__ = [
    "N_CALENDAR_FEATURES",
    "SeriesPanel",
    "build_panel",
    "calendar_features",
    "sample_windows",
    "last_windows",
]

logger = logging.getLogger(__name__)

_EPOCH = np.datetime64("1970-01-01", "D")
#: day of week (7, one-hot), month (sin, cos), day of year (sin, cos), closeness to Christmas (1).
N_CALENDAR_FEATURES = 12
#: Closeness to Christmas ramps from 0 to 1 over the last ``_XMAS_DAYS`` days before 25 December.
_XMAS_DAYS = 90.0


def calendar_features(days: np.ndarray) -> np.ndarray:
    """Calendar covariates of integer day numbers (days since 1970-01-01) as a float32 ``[n, 12]`` array."""
    days = np.asarray(days, dtype=np.int64)
    dates = pd.DatetimeIndex(days.astype("datetime64[D]"))
    out = np.zeros((len(days), N_CALENDAR_FEATURES), dtype=np.float32)
    out[np.arange(len(days)), dates.dayofweek.to_numpy()] = 1.0
    month_angle = 2 * np.pi * (dates.month.to_numpy() - 1) / 12.0
    doy_angle = 2 * np.pi * (dates.dayofyear.to_numpy() - 1) / 365.25
    out[:, 7] = np.sin(month_angle)
    out[:, 8] = np.cos(month_angle)
    out[:, 9] = np.sin(doy_angle)
    out[:, 10] = np.cos(doy_angle)
    # Days until the next 25 December; retail demand ramps up for weeks before it.
    years = dates.year.to_numpy()
    past = dates.to_numpy().astype("datetime64[D]") > pd.to_datetime({"year": years, "month": 12, "day": 25}).to_numpy()
    xmas = pd.to_datetime({"year": years + past, "month": 12, "day": 25}).to_numpy().astype("datetime64[D]")
    to_xmas = (xmas - dates.to_numpy().astype("datetime64[D]")).astype(np.int64)
    out[:, 11] = np.clip(1.0 - to_xmas / _XMAS_DAYS, 0.0, 1.0)
    return out


@dataclass(frozen=True)
class SeriesPanel:
    """Right-aligned series matrix plus what is needed to place windows in time.

    Attributes:
        ids: series ids, row order of ``values``.
        values: ``[n_series, lookback + max_len]`` float32, zero where not observed.
        mask: same shape, 1.0 on observed days.
        first_col: first observed column per series.
        end_day: day number (days since 1970-01-01) of each series' last observed day.
    """

    ids: np.ndarray
    values: np.ndarray
    mask: np.ndarray
    first_col: np.ndarray
    end_day: np.ndarray

    @property
    def n_cols(self) -> int:
        return int(self.values.shape[1])

    def tail(self, lookback: int) -> SeriesPanel:
        """The last ``lookback`` columns: all ``predict`` needs (saved with the model artifact)."""
        keep = lookback
        if self.n_cols <= keep:
            return self
        first = np.maximum(self.first_col - (self.n_cols - keep), 0)
        return SeriesPanel(
            self.ids, self.values[:, -keep:].copy(), self.mask[:, -keep:].copy(), first, self.end_day.copy()
        )


def build_panel(df: pd.DataFrame, lookback: int) -> SeriesPanel:
    """Validate a long frame (``unique_id, ds, y``), zero-fill gaps and right-align it into a matrix."""
    validate_series_frame(df)
    frame = df[[ID_COL, TIME_COL, TARGET_COL]]
    if frame[TARGET_COL].isna().any():
        # A missing day inside a retail series means "no sale" in this project's marts.
        frame = frame.assign(**{TARGET_COL: frame[TARGET_COL].fillna(0.0)})
    bounds = frame.groupby(ID_COL, observed=True, sort=True)[TIME_COL].agg(["min", "max", "size"])
    span = (bounds["max"] - bounds["min"]).dt.days.to_numpy() + 1
    if (span != bounds["size"].to_numpy()).any():
        logger.info("zero-filling gaps in %d series", int((span != bounds["size"].to_numpy()).sum()))
        frame = fill_daily_gaps(frame)
    frame = frame.sort_values([ID_COL, TIME_COL], kind="stable")
    ids = bounds.index.astype(str).to_numpy()
    lengths = span.astype(np.int64)
    n_cols = lookback + int(lengths.max())
    values = np.zeros((len(ids), n_cols), dtype=np.float32)
    first_col = (n_cols - lengths).astype(np.int64)
    rows = np.repeat(np.arange(len(ids)), lengths)
    cols = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(first_col, lengths)
    values[rows, cols] = np.clip(frame[TARGET_COL].to_numpy(dtype=np.float32), 0.0, None)
    mask = np.zeros_like(values)
    mask[rows, cols] = 1.0
    end_day = (bounds["max"].to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)
    logger.info("panel: %d series, %d columns, %d observed days", len(ids), n_cols, int(lengths.sum()))
    return SeriesPanel(ids=ids, values=values, mask=mask, first_col=first_col, end_day=end_day)


def sample_windows(
    panel: SeriesPanel,
    *,
    lookback: int,
    horizon: int,
    last_target_col: int,
    max_per_series: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw training windows: ``(rows, end_cols)`` with every target day at or before ``last_target_col``.

    Each series contributes ``min(max_per_series, number of valid windows)`` end columns drawn uniformly
    (with replacement) from its valid range, so short and long series both appear in every epoch.
    """
    lo = np.maximum(panel.first_col, lookback - 1)
    hi = np.full_like(lo, last_target_col - horizon)
    n_valid = hi - lo + 1
    ok = n_valid > 0
    counts = np.where(ok, np.minimum(max_per_series, np.maximum(n_valid, 0)), 0)
    rows = np.repeat(np.arange(len(lo)), counts)
    offsets = np.floor(rng.random(len(rows)) * n_valid[rows]).astype(np.int64)
    return rows, lo[rows] + offsets


def last_windows(panel: SeriesPanel, *, horizon: int, holdout: int) -> tuple[np.ndarray, np.ndarray]:
    """One window per series whose ``horizon`` targets are the last ``holdout`` days (0: forecast windows).

    Series too short to have one observed input day before the held-out days are left out.
    """
    end_col = panel.n_cols - 1 - holdout
    rows = np.flatnonzero(panel.first_col <= end_col) if holdout else np.arange(len(panel.ids))
    return rows, np.full(len(rows), end_col, dtype=np.int64)
