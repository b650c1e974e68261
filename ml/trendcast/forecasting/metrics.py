"""M5-style accuracy metrics on backtest forecasts: WRMSSE (the decision metric) and the metrics reported beside it.

Definitions (per item ``i`` and fold/cutoff ``c``; the training part is the item's history with ``ds <= c``):

* ``scale_mse`` / ``scale_mae``: in-sample mean squared / absolute seasonal difference ``y_t - y_{t-7}``.
* RMSSE = sqrt(MSE over the horizon / scale_mse); MASE = MAE over the horizon / scale_mae
  (utilsforecast ``rmsse`` / ``mase``).
* WRMSSE = sum_i w_i RMSSE_i with w_i = the item's units in the last 28 training days / all items' units there (M5).
* WAPE = sum |y - y_hat| / sum y; bias = sum y_hat / sum y (1 = unbiased), both over all items of the fold.
* scaled pinball = mean pinball loss over the quantiles 0.05 … 0.95 (11 levels) / scale_mae, i.e. scaled like
  MASE (utilsforecast ``scaled_mqloss``); its q = 0.5 term alone is half of MASE for the median.
* coverage 80 / 95 = share of actuals with q100 <= y <= q900 / q025 <= y <= q975 (utilsforecast ``coverage``).

Per-fold values are computed on each cutoff; the overall row is the mean over folds (as the M5-style references
in FACTS.md); per item: means over folds.

Forecast frames are long: ``unique_id, ds, cutoff, model, y, y_hat, q025 … q975``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from utilsforecast import losses

from trendcast.forecasting.frames import CUTOFF_COL, ID_COL, TARGET_COL, TIME_COL
from trendcast.forecasting.models.base import level_columns, quantile_column

__all__ = [
    "PINBALL_QUANTILES",
    "METRIC_COLUMNS",
    "Evaluation",
    "item_weights",
    "evaluate",
]

logger = logging.getLogger(__name__)

#: Quantiles of the scaled pinball loss (0.05 … 0.95).
PINBALL_QUANTILES: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
METRIC_COLUMNS = ["wrmsse", "rmsse", "mase", "wape", "bias", "scaled_pinball", "coverage_80", "coverage_95"]


@dataclass(frozen=True)
class Evaluation:
    """Metrics of a backtest.

    Attributes:
        summary: one row per (model, fold); ``fold`` is the cutoff date as ``YYYY-MM-DD`` or ``"mean"`` for the
            mean over folds. Columns: model, fold, :data:`METRIC_COLUMNS`.
        per_item: one row per (model, unique_id), metrics averaged over folds, plus ``weight`` (mean M5 weight).
        per_item_fold: one row per (model, unique_id, cutoff) with the unaveraged values.
    """

    summary: pd.DataFrame
    per_item: pd.DataFrame
    per_item_fold: pd.DataFrame

    def overall(self) -> pd.DataFrame:
        """Mean-over-folds rows indexed by model."""
        return self.summary[self.summary["fold"] == "mean"].set_index("model")[METRIC_COLUMNS]


def item_weights(train_df: pd.DataFrame, cutoffs: Sequence[pd.Timestamp], *, window: int = 28) -> pd.DataFrame:
    """M5 weights per (unique_id, cutoff): units in the ``window`` days up to the cutoff, summing to 1 per cutoff."""
    parts = []
    for c in cutoffs:
        c = pd.Timestamp(c)
        recent = train_df[(train_df[TIME_COL] > c - pd.Timedelta(days=window)) & (train_df[TIME_COL] <= c)]
        units = recent.groupby(ID_COL, observed=True)[TARGET_COL].sum()
        parts.append(pd.DataFrame({ID_COL: units.index, CUTOFF_COL: c, "weight": units.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def _wide(forecasts: pd.DataFrame, quantile_cols: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Pivot the long frame to utilsforecast's layout: one column per model and ``{model}-{qcol}``."""
    keys = [ID_COL, TIME_COL, CUTOFF_COL]
    models = list(dict.fromkeys(forecasts["model"]))
    base = forecasts[forecasts["model"] == models[0]][[*keys, TARGET_COL]].reset_index(drop=True)
    cols = {}
    for m in models:
        part = forecasts[forecasts["model"] == m].set_index(keys)
        part = part.reindex(pd.MultiIndex.from_frame(base[keys]))
        if part["y_hat"].isna().any():
            raise ValueError(f"model {m!r} lacks forecasts for some (unique_id, ds, cutoff)")
        cols[m] = part["y_hat"].to_numpy(dtype=float)
        for q in quantile_cols:
            cols[f"{m}-{q}"] = part[q].to_numpy(dtype=float)
    wide = pd.concat([base, pd.DataFrame(cols)], axis=1)
    return wide, models


def evaluate(
    forecasts: pd.DataFrame,
    train_df: pd.DataFrame,
    *,
    seasonality: int = 7,
    weight_window: int = 28,
    pinball_quantiles: Sequence[float] = PINBALL_QUANTILES,
) -> Evaluation:
    """Score backtest ``forecasts`` (long, with a ``model`` column) against the history in ``train_df``.

    ``train_df`` holds the full series (``unique_id, ds, y``); each fold uses only ``ds <= cutoff`` for scales
    and weights. Items whose in-sample scale is zero or undefined are dropped with a warning.
    """
    qcols = [quantile_column(q) for q in pinball_quantiles]
    lo80, hi80 = level_columns(80)
    lo95, hi95 = level_columns(95)
    needed = sorted(set(qcols) | {lo80, hi80, lo95, hi95})
    wide, models = _wide(forecasts, needed)
    ids = wide[ID_COL].unique()
    train = train_df.loc[train_df[ID_COL].isin(ids), [ID_COL, TIME_COL, TARGET_COL]].sort_values([ID_COL, TIME_COL])
    train = train.reset_index(drop=True)
    keys = [ID_COL, CUTOFF_COL]

    rmsse = losses.rmsse(wide, models=models, seasonality=seasonality, train_df=train)
    mase = losses.mase(wide, models=models, seasonality=seasonality, train_df=train)
    spl = losses.scaled_mqloss(
        wide,
        models={m: [f"{m}-{q}" for q in qcols] for m in models},
        quantiles=np.asarray(pinball_quantiles),
        seasonality=seasonality,
        train_df=train,
    )
    cov_frame = wide[keys + [TARGET_COL]].copy()
    for m in models:
        for level, (lo, hi) in ((80, (lo80, hi80)), (95, (lo95, hi95))):
            cov_frame[f"{m}@{level}-lo-{level}"] = wide[f"{m}-{lo}"]
            cov_frame[f"{m}@{level}-hi-{level}"] = wide[f"{m}-{hi}"]
    cov80 = losses.coverage(cov_frame, models=[f"{m}@80" for m in models], level=80)
    cov95 = losses.coverage(cov_frame, models=[f"{m}@95" for m in models], level=95)

    abs_err = wide[keys].copy()
    for m in models:
        abs_err[m] = (wide[TARGET_COL] - wide[m]).abs()
    sums = wide.groupby(keys, observed=True)[[TARGET_COL, *models]].sum().reset_index()
    abs_sums = abs_err.groupby(keys, observed=True)[models].sum().reset_index()

    weights = item_weights(train, wide[CUTOFF_COL].unique(), window=weight_window)

    def melt(frame: pd.DataFrame, name: str, rename: dict[str, str] | None = None) -> pd.DataFrame:
        frame = frame.rename(columns=rename or {})
        return frame.melt(id_vars=keys, value_vars=models, var_name="model", value_name=name)

    per = melt(rmsse, "rmsse")
    for frame, name, ren in (
        (mase, "mase", None),
        (spl, "scaled_pinball", None),
        (cov80, "coverage_80", {f"{m}@80": m for m in models}),
        (cov95, "coverage_95", {f"{m}@95": m for m in models}),
        (abs_sums, "abs_error", None),
        (sums.drop(columns=TARGET_COL), "sum_forecast", None),
    ):
        per = per.merge(melt(frame, name, ren), on=[*keys, "model"], how="left")
    per = per.merge(sums[[*keys, TARGET_COL]].rename(columns={TARGET_COL: "sum_actual"}), on=keys, how="left")
    per = per.merge(weights, on=keys, how="left")
    per["weight"] = per["weight"].fillna(0.0)

    bad = ~np.isfinite(per["rmsse"]) | ~np.isfinite(per["mase"])
    if bad.any():
        logger.warning("dropping %d (item, fold, model) rows with a zero or undefined in-sample scale", int(bad.sum()))
        per = per[~bad]
    per = per.reset_index(drop=True)

    def fold_metrics(g: pd.DataFrame) -> pd.Series:
        w = g["weight"] / g["weight"].sum()
        actual = g["sum_actual"].sum()
        return pd.Series(
            {
                "wrmsse": float((w * g["rmsse"]).sum()),
                "rmsse": g["rmsse"].mean(),
                "mase": g["mase"].mean(),
                "wape": g["abs_error"].sum() / actual if actual else np.nan,
                "bias": g["sum_forecast"].sum() / actual if actual else np.nan,
                "scaled_pinball": g["scaled_pinball"].mean(),
                # every item has the same horizon length, so the mean of per-item shares is the overall share
                "coverage_80": g["coverage_80"].mean(),
                "coverage_95": g["coverage_95"].mean(),
            }
        )

    by_fold = per.groupby(["model", CUTOFF_COL], sort=False).apply(fold_metrics, include_groups=False).reset_index()
    by_fold["fold"] = pd.to_datetime(by_fold[CUTOFF_COL]).dt.strftime("%Y-%m-%d")
    mean = by_fold.groupby("model", sort=False)[METRIC_COLUMNS].mean().reset_index().assign(fold="mean")
    summary = pd.concat([mean, by_fold.drop(columns=CUTOFF_COL)], ignore_index=True)[["model", "fold", *METRIC_COLUMNS]]

    per_item_fold = per.assign(
        wape=per["abs_error"] / per["sum_actual"].where(per["sum_actual"] > 0),
        bias=per["sum_forecast"] / per["sum_actual"].where(per["sum_actual"] > 0),
    )
    item_cols = ["rmsse", "mase", "wape", "bias", "scaled_pinball", "coverage_80", "coverage_95", "weight"]
    per_item = per_item_fold.groupby(["model", ID_COL], sort=False)[item_cols].mean().reset_index()
    return Evaluation(summary=summary, per_item=per_item, per_item_fold=per_item_fold)
