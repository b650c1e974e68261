"""Leakage-free features for demand forecasting, computed in pandas/numpy for a given cutoff.

Two families:

* **per-day (mart) features**, the columns the dbt mart ``ml_item_daily_sales`` will provide under the same names:
  calendar (``day_of_week`` 1 = Monday as in dbt, ``month``, ``day_of_year``, ``is_uk_bank_holiday``,
  ``days_to_christmas``)
  and lags of at least 28 days relative to the target day (``lag_28``, ``lag_35``, ``lag_364``,
  ``roll_mean_7_lag28``, ``roll_mean_28_lag28``). With a horizon of at most 28 days they never reach past the
  cutoff; for longer horizons :func:`direct_features` masks them.
* **origin features** for a direct multi-horizon model: statistics of each item's history up to the forecast
  origin (the cutoff): recent means over 7 … 364 days, volatility, intermittency, weekday profile, last year's
  values around the same dates, item age, last price, and the same for the whole catalogue (market level).

Everything an origin row sees ends at its origin: callers pass only history up to the cutoff.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trendcast.bank_holidays import iso_day_of_week, uk_bank_holidays
from trendcast.forecasting.frames import ID_COL, TARGET_COL, TIME_COL

__all__ = [
    "MART_FEATURES",
    "calendar_features",
    "lag_features",
    "SeriesMatrix",
    "series_matrix",
    "direct_features",
]

logger = logging.getLogger(__name__)

MART_FEATURES = [
    "lag_28",
    "lag_35",
    "lag_364",
    "roll_mean_7_lag28",
    "roll_mean_28_lag28",
    "day_of_week",
    "month",
    "day_of_year",
    "is_uk_bank_holiday",
    "days_to_christmas",
    "price",
]
_MEAN_WINDOWS = (7, 14, 28, 56, 91, 182, 364)


def calendar_features(ds: pd.Series | pd.DatetimeIndex) -> pd.DataFrame:
    """Calendar columns of each date: day_of_week (ISO: 1 = Monday, as the mart), month, day_of_year,
    is_uk_bank_holiday, days_to_christmas (days until the next 25 December, 0 on the day)."""
    ds = pd.DatetimeIndex(ds)
    hol = uk_bank_holidays(ds.min(), ds.max()) if len(ds) else pd.DatetimeIndex([])
    xmas = pd.to_datetime({"year": ds.year, "month": 12, "day": 25})
    xmas = pd.DatetimeIndex(xmas)
    to_xmas = (xmas - ds).days.to_numpy()
    next_year = pd.DatetimeIndex(pd.to_datetime({"year": ds.year + 1, "month": 12, "day": 25}))
    to_xmas = np.where(to_xmas < 0, (next_year - ds).days.to_numpy(), to_xmas)
    return pd.DataFrame(
        {
            "day_of_week": iso_day_of_week(ds).to_numpy(dtype=np.int8),
            "month": ds.month.to_numpy(dtype=np.int8),
            "day_of_year": ds.dayofyear.to_numpy(dtype=np.int16),
            "is_uk_bank_holiday": ds.isin(hol).astype(np.int8),
            "days_to_christmas": to_xmas.astype(np.int16),
        }
    )


def lag_features(df: pd.DataFrame) -> pd.DataFrame:
    """Per-day mart features of a zero-filled long frame (lags relative to each row's own day).

    Returns ``unique_id, ds`` plus lag_28, lag_35, lag_364, roll_mean_7_lag28, roll_mean_28_lag28 and the
    calendar columns. Rows must be consecutive days per item (as the zero-filled mart is).
    """
    df = df.sort_values([ID_COL, TIME_COL])
    g = df.groupby(ID_COL, observed=True, sort=False)[TARGET_COL]
    out = df[[ID_COL, TIME_COL]].copy()
    for lag in (28, 35, 364):
        out[f"lag_{lag}"] = g.shift(lag).to_numpy()
    lag28 = g.shift(28)
    grouped = lag28.groupby(df[ID_COL], observed=True, sort=False)
    for window in (7, 28):
        out[f"roll_mean_{window}_lag28"] = grouped.transform(
            lambda s, w=window: s.rolling(w, min_periods=1).mean()
        ).to_numpy()
    cal = calendar_features(out[TIME_COL])
    for col in cal.columns:
        out[col] = cal[col].to_numpy()
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class SeriesMatrix:
    """Dense item x day view of a long frame: ``values`` is NaN before each item's first day."""

    ids: np.ndarray
    dates: pd.DatetimeIndex
    values: np.ndarray
    last_index: np.ndarray  # per item: column of its last observed day
    price: np.ndarray | None  # last known unit price up to each day (forward-filled), NaN before the first price
    orders: np.ndarray | None = None  # orders (invoices) per day when the frame has ``n_orders``, else None

    def __post_init__(self) -> None:
        filled = np.nan_to_num(self.values)
        valid = (~np.isnan(self.values)).astype(float)
        pad = np.zeros((len(self.ids), 1))
        object.__setattr__(self, "cum", np.hstack([pad, np.cumsum(filled, axis=1)]))
        object.__setattr__(self, "cum2", np.hstack([pad, np.cumsum(filled**2, axis=1)]))
        object.__setattr__(self, "cumn", np.hstack([pad, np.cumsum(valid, axis=1)]))
        positive = np.where(filled > 0, np.arange(filled.shape[1])[None, :], -1)
        object.__setattr__(self, "last_sale", np.maximum.accumulate(positive, axis=1))
        first = np.argmax(valid > 0, axis=1)
        object.__setattr__(self, "first_index", first)
        total = filled.sum(axis=0)
        object.__setattr__(self, "total_cum", np.concatenate([[0.0], np.cumsum(total)]))
        dow = self.dates.dayofweek.to_numpy()
        by_dow = np.stack([np.cumsum(filled * (dow == d)[None, :], axis=1) for d in range(7)])
        object.__setattr__(self, "cum_dow", np.concatenate([np.zeros((7, len(self.ids), 1)), by_dow], axis=2))
        if self.orders is not None:
            object.__setattr__(self, "cum_orders", np.hstack([pad, np.cumsum(np.nan_to_num(self.orders), axis=1)]))


def series_matrix(df: pd.DataFrame, price_col: str | None = "price", orders_col: str = "n_orders") -> SeriesMatrix:
    """Pivot a long frame to a :class:`SeriesMatrix` (one row per ``unique_id``, sorted)."""
    ids, codes = np.unique(df[ID_COL].to_numpy(), return_inverse=True)
    start, end = df[TIME_COL].min(), df[TIME_COL].max()
    dates = pd.date_range(start, end, freq="D")
    cols = ((df[TIME_COL] - start).dt.days).to_numpy()
    values = np.full((len(ids), len(dates)), np.nan)
    values[codes, cols] = df[TARGET_COL].to_numpy(dtype=float)
    last = np.full(len(ids), -1)
    np.maximum.at(last, codes, cols)
    price = None
    if price_col and price_col in df.columns:
        p = np.full((len(ids), len(dates)), np.nan)
        p[codes, cols] = df[price_col].to_numpy(dtype=float)
        price = pd.DataFrame(p.T).ffill().to_numpy().T
    orders = None
    if orders_col in df.columns:
        orders = np.full((len(ids), len(dates)), np.nan)
        orders[codes, cols] = df[orders_col].to_numpy(dtype=float)
    return SeriesMatrix(ids=ids, dates=dates, values=values, last_index=last, price=price, orders=orders)


def _window_sum(cum: np.ndarray, rows: np.ndarray, end: np.ndarray, n: int) -> np.ndarray:
    """Sum of days ``(end - n, end]`` (column indices, inclusive end) per row, clipped at the matrix start."""
    hi = np.clip(end + 1, 0, cum.shape[1] - 1)
    lo = np.clip(end + 1 - n, 0, cum.shape[1] - 1)
    return cum[rows, hi] - cum[rows, lo]


def _origin_block(m: SeriesMatrix, rows: np.ndarray, origin: np.ndarray) -> dict[str, np.ndarray]:
    """Features of (item row, origin column) pairs from data up to and including the origin day."""
    f: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for n in _MEAN_WINDOWS:
            s = _window_sum(m.cum, rows, origin, n)
            c = _window_sum(m.cumn, rows, origin, n)
            f[f"mean_{n}"] = np.where(c > 0, s / c, np.nan)
        s2 = _window_sum(m.cum2, rows, origin, 28)
        c28 = _window_sum(m.cumn, rows, origin, 28)
        var = s2 / c28 - f["mean_28"] ** 2
        f["std_28"] = np.sqrt(np.clip(var, 0, None))
        s2 = _window_sum(m.cum2, rows, origin, 182)
        c182 = _window_sum(m.cumn, rows, origin, 182)
        f["std_182"] = np.sqrt(np.clip(s2 / c182 - f["mean_182"] ** 2, 0, None))
        f["cv_182"] = f["std_182"] / f["mean_182"]
        filled = np.nan_to_num(m.values)
        win = np.lib.stride_tricks.sliding_window_view(np.pad(filled, ((0, 0), (27, 0))), 28, axis=1)
        recent = win[rows, origin]
        f["max_28"] = recent.max(axis=1)
        f["zero_share_28"] = (recent == 0).mean(axis=1)
        ls = m.last_sale[rows, origin]
        f["days_since_sale"] = np.where(ls >= 0, origin - ls, 9999).astype(float)
        f["age"] = (origin - m.first_index[rows]).astype(float)
        # last year around the same dates: the 28 days before and after origin - 364
        ly = origin - 364
        ok = ly - 28 >= m.first_index[rows]
        for name, end, n in (("ly_prev_28", ly, 28), ("ly_next_28", ly + 28, 28), ("ly_next_7", ly + 7, 7)):
            val = _window_sum(m.cum, rows, end, n) / n
            f[name] = np.where(ok, val, np.nan)
        f["ly_ratio"] = (f["ly_next_28"] + 0.1) / (f["ly_prev_28"] + 0.1)
        f["ratio_7_28"] = (f["mean_7"] + 0.1) / (f["mean_28"] + 0.1)
        f["ratio_28_91"] = (f["mean_28"] + 0.1) / (f["mean_91"] + 0.1)
        f["ratio_28_364"] = (f["mean_28"] + 0.1) / (f["mean_364"] + 0.1)
        # market level: the whole catalogue's units
        tot = m.total_cum

        def total(end: np.ndarray, n: int) -> np.ndarray:
            hi = np.clip(end + 1, 0, len(tot) - 1)
            lo = np.clip(end + 1 - n, 0, len(tot) - 1)
            return tot[hi] - tot[lo]

        g28 = total(origin, 28)
        g_ly_prev = total(origin - 364, 28)
        g_ly_next = total(origin - 336, 28)
        has_ly = origin - 364 - 28 >= 0
        f["mkt_ratio_28_91"] = g28 / np.maximum(total(origin, 91) / 91 * 28, 1)
        f["mkt_yoy_28"] = np.where(has_ly, g28 / np.maximum(g_ly_prev, 1), np.nan)
        f["mkt_ly_ratio"] = np.where(has_ly, g_ly_next / np.maximum(g_ly_prev, 1), np.nan)
        if m.orders is not None:
            # orders are far less lumpy than units (one wholesale order can be 1,000 units): the order rate and
            # units per order separate a steady seller from one big buyer
            for n in (28, 91, 364):
                o_n = _window_sum(m.cum_orders, rows, origin, n)
                f[f"orders_{n}"] = o_n / n
                u_n = _window_sum(m.cum, rows, origin, n)
                f[f"upo_{n}"] = np.where(o_n > 0, u_n / np.maximum(o_n, 1), np.nan)
            f["upo_ratio_28_364"] = f["upo_28"] / f["upo_364"]
        if m.price is not None:
            p = m.price[rows, origin]
            f["price"] = p
            hist = np.stack([m.price[rows, np.clip(origin - k, 0, None)] for k in (28, 91, 182)], axis=1)
            f["price_ratio_91"] = p / hist[:, 1]
            f["price_ratio_182"] = p / hist[:, 2]
    return f


def direct_features(
    m: SeriesMatrix,
    rows: np.ndarray,
    origin: np.ndarray,
    horizon: int,
) -> pd.DataFrame:
    """One row per (item row, origin, step k = 1 … horizon): origin features, target-day calendar and
    lags of the target day that end at or before the origin. Columns ``_row``, ``_origin``, ``_t`` index it."""
    block = _origin_block(m, rows, origin)
    n = len(rows)
    k = np.tile(np.arange(1, horizon + 1), n)
    r = np.repeat(rows, horizon)
    o = np.repeat(origin, horizon)
    t = o + k
    out = {key: np.repeat(val, horizon) for key, val in block.items()}
    out["horizon"] = k.astype(float)
    start = m.dates[0]
    target_dates = start + pd.to_timedelta(t, unit="D")
    cal = calendar_features(target_dates)
    for col in cal.columns:
        out[col] = cal[col].to_numpy()
    filled = np.nan_to_num(m.values)
    n_days = filled.shape[1]

    def at(col: np.ndarray) -> np.ndarray:
        okay = (col >= 0) & (col <= o)
        return np.where(okay, filled[r, np.clip(col, 0, n_days - 1)], np.nan)

    for lag in (28, 35, 364):
        out[f"lag_{lag}"] = at(t - lag)
    with np.errstate(invalid="ignore", divide="ignore"):
        for w in (7, 28):
            end = t - 28
            s = _window_sum(m.cum, r, np.minimum(end, o), w)
            out[f"roll_mean_{w}_lag28"] = np.where(end <= o, s / w, np.nan)
        # last year's week around the target day (same weekday 364 days earlier, +-3 days)
        ly_end = t - 364 + 3
        ly = _window_sum(m.cum, r, ly_end, 7) / 7
        out["ly_week"] = np.where((ly_end <= o) & (t - 364 - 3 >= m.first_index[r]), ly, np.nan)
        # item's weekday profile over the last 182 days: share of units on the target's weekday, x 7
        dow = cal["day_of_week"].to_numpy()
        hi = np.clip(o + 1, 0, m.cum.shape[1] - 1)
        lo = np.clip(o + 1 - 182, 0, m.cum.shape[1] - 1)
        d_sum = m.cum_dow[dow - 1, r, hi] - m.cum_dow[dow - 1, r, lo]  # ISO 1-7 -> rows 0-6
        all_sum = m.cum[r, hi] - m.cum[r, lo]
        out["dow_share"] = np.where(all_sum > 0, 7 * d_sum / all_sum, np.nan)
        out["ly_week_ratio"] = (out["ly_week"] + 0.1) / (out["mean_28"] + 0.1)
    frame = pd.DataFrame(out)
    frame["_row"] = r
    frame["_origin"] = o
    frame["_t"] = t
    return frame


def origins_for(m: SeriesMatrix, last: int, *, horizon: int, step: int, n_origins: int) -> list[int]:
    """Training origins (column indices): ``last - horizon``, then every ``step`` days back, ``n_origins`` in all,
    so every training target (origin + horizon) is observed."""
    first = last - horizon
    return [o for o in (first - step * i for i in range(n_origins)) if o >= 28]


def training_rows(m: SeriesMatrix, origins: Sequence[int], *, horizon: int, min_age: int = 28) -> pd.DataFrame:
    """Direct features + target ``y`` for every item alive at least ``min_age`` days at each origin."""
    parts = []
    for o in origins:
        rows = np.flatnonzero((m.first_index <= o - min_age) & (m.last_index >= o + horizon))
        if len(rows) == 0:
            continue
        frame = direct_features(m, rows, np.full(len(rows), o), horizon)
        frame[TARGET_COL] = m.values[frame["_row"].to_numpy(), frame["_t"].to_numpy()]
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def market_weekday_profile(m: SeriesMatrix, origin: int, *, days: int = 182) -> np.ndarray:
    """All items' units by weekday (0 = Monday) over the ``days`` up to ``origin``, scaled to mean 1."""
    lo = max(origin + 1 - days, 0)
    total = np.diff(m.total_cum)[lo : origin + 1]
    dow = m.dates.dayofweek.to_numpy()[lo : origin + 1]
    by_day = np.array([total[dow == d].sum() for d in range(7)])
    return 7 * by_day / by_day.sum() if by_day.sum() > 0 else np.ones(7)


def weekly_features(m: SeriesMatrix, rows: np.ndarray, origin: np.ndarray, n_weeks: int) -> pd.DataFrame:
    """One row per (item row, origin, week w = 1 … n_weeks after the origin): origin features, the week's
    calendar, and last year's same week for the item and the market. ``_row``, ``_origin``, ``_w`` index it."""
    block = _origin_block(m, rows, origin)
    w = np.tile(np.arange(1, n_weeks + 1), len(rows))
    r = np.repeat(rows, n_weeks)
    o = np.repeat(origin, n_weeks)
    out = {key: np.repeat(val, n_weeks) for key, val in block.items()}
    out["week"] = w.astype(float)
    first_day = m.dates[0] + pd.to_timedelta(o + 7 * (w - 1) + 1, unit="D")
    mid = calendar_features(first_day + pd.Timedelta(days=3))
    out["month"] = mid["month"].to_numpy()
    out["day_of_year"] = mid["day_of_year"].to_numpy()
    out["days_to_christmas"] = calendar_features(first_day)["days_to_christmas"].to_numpy()
    hol = uk_bank_holidays(first_day.min(), first_day.max() + pd.Timedelta(days=6))
    out["n_bank_holidays"] = sum((first_day + pd.Timedelta(days=d)).isin(hol).astype(int) for d in range(7))
    week_end = o + 7 * w  # last day of the target week
    with np.errstate(invalid="ignore", divide="ignore"):
        ly_end = week_end - 364
        ok = (ly_end - 7 >= m.first_index[r]) & (ly_end <= o)
        out["ly_week"] = np.where(ok, _window_sum(m.cum, r, ly_end, 7) / 7, np.nan)
        out["ly_week_ratio"] = (out["ly_week"] + 0.1) / (out["mean_28"] + 0.1)
        tot = m.total_cum

        def total(end: np.ndarray, n: int) -> np.ndarray:
            hi = np.clip(end + 1, 0, len(tot) - 1)
            lo = np.clip(end + 1 - n, 0, len(tot) - 1)
            return tot[hi] - tot[lo]

        has_ly = o - 364 - 28 >= 0
        out["mkt_ly_week_ratio"] = np.where(has_ly, 4 * total(ly_end, 7) / np.maximum(total(o - 364, 28), 1), np.nan)
        # the item's own last weeks before the origin, newest first
        for lag in (1, 2, 3, 4):
            out[f"mean_week_lag{lag}"] = _window_sum(m.cum, r, o - 7 * (lag - 1), 7) / 7
    frame = pd.DataFrame(out)
    frame["_row"] = r
    frame["_origin"] = o
    frame["_w"] = w
    return frame


def weekly_training_rows(m: SeriesMatrix, origins: Sequence[int], *, n_weeks: int, min_age: int = 28) -> pd.DataFrame:
    """:func:`weekly_features` + target ``y`` (mean daily units of the week) for items alive at each origin."""
    parts = []
    for o in origins:
        rows = np.flatnonzero((m.first_index <= o - min_age) & (m.last_index >= o + 7 * n_weeks))
        if len(rows) == 0:
            continue
        frame = weekly_features(m, rows, np.full(len(rows), o), n_weeks)
        end = frame["_origin"].to_numpy() + 7 * frame["_w"].to_numpy()
        frame[TARGET_COL] = _window_sum(m.cum, frame["_row"].to_numpy(), end, 7) / 7
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)
