"""A champion on every install: when no trained model earns ``@champion`` and none serves yet, the best
baseline on the same backtest folds is registered and serves as ``@champion``, labelled as a baseline fallback.

The next retrain compares its challengers with that baseline on the new folds (:func:`champion_on_folds`), so a
trained model replaces the fallback as soon as it passes promotion.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from trendcast.exceptions import ModelNotFoundError
from trendcast.forecasting import mlflow_session, promotion, registry, run_log
from trendcast.forecasting.frames import ID_COL
from trendcast.forecasting.models.base import forecast_columns
from trendcast.settings import Settings, get_settings

__all__ = [
    "FALLBACK_TAG",
    "pick_baseline",
    "champion_on_folds",
    "serve_baseline_if_unserved",
    "fill_missing_forecasts",
]

log = logging.getLogger(__name__)

#: Version and run tag marking a baseline that serves because no trained model passed promotion.
FALLBACK_TAG = "trendcast.fallback"


def _num(metrics: Mapping[str, float], key: str) -> float:
    value = metrics.get(key)
    return float(value) if value is not None and math.isfinite(float(value)) else math.inf


def pick_baseline(overall: Mapping[str, Mapping[str, float]], baselines: Sequence[str]) -> str:
    """Lowest WRMSSE among baselines with a bias inside :data:`promotion.BIAS_RANGE` (the all-zero forecast
    must not serve); without any, the baseline whose bias is closest to 1."""
    low, high = promotion.BIAS_RANGE
    scored = [name for name in baselines if name in overall]
    if not scored:
        raise ModelNotFoundError(f"no baseline was backtested (expected one of {list(baselines)})")
    unbiased = [n for n in scored if low <= _num(overall[n], "bias") <= high and _num(overall[n], "wrmsse") < math.inf]
    if unbiased:
        return min(unbiased, key=lambda n: _num(overall[n], "wrmsse"))
    return min(scored, key=lambda n: abs(_num(overall[n], "bias") - 1.0))


def champion_on_folds(
    target: str, overall: Mapping[str, Mapping[str, float]], settings: Settings | None = None
) -> dict[str, dict[str, float]]:
    """``{"champion": metrics}`` when the current ``@champion`` is a baseline fallback this backtest ran, for
    :func:`promotion.promote_if_better`'s ``baseline_metrics`` (so a trained model can replace it); else ``{}``."""
    try:
        info = registry.get_model_info(target, alias=registry.CHAMPION, settings=settings)
    except ModelNotFoundError:
        return {}
    if info.fallback and info.family in overall:
        return {promotion.CHAMPION_KEY: dict(overall[info.family])}
    return {}


def serve_baseline_if_unserved(
    target: str,
    df: pd.DataFrame,
    *,
    baselines: Sequence[str],
    overall: Mapping[str, Mapping[str, float]],
    folds: pd.DataFrame,
    rejected: Mapping[str, str],
    horizon: int,
    settings: Settings | None = None,
) -> promotion.PromotionDecision | None:
    """When no version carries ``@champion``, register the best baseline and alias it ``@champion``.

    Args:
        df: The training frame; the baseline is fitted on all of it, like a trained challenger.
        overall: Mean-over-folds metrics per model of the backtest (baselines included).
        folds: Per-fold metrics (``model``, ``fold``/``cutoff`` + metric columns) of that backtest.
        rejected: Trained model name -> why it failed promotion (the fallback's label says so).

    Returns:
        The fallback decision, or None when a champion already serves.
    """
    from trendcast.forecasting.catalog import build_models

    settings = settings or get_settings()
    try:
        registry.get_model_info(target, alias=registry.CHAMPION, settings=settings)
        return None
    except ModelNotFoundError:
        pass
    name = pick_baseline(overall, baselines)
    metrics = dict(overall[name])
    why = "; ".join(f"trained {model} failed promotion: {reason}" for model, reason in rejected.items())
    low, high = promotion.BIAS_RANGE
    bias = _num(metrics, "bias")
    note = "" if low <= bias <= high else ", no baseline within the bias bounds: the closest to 1"
    reason = (
        f"{why or 'no trained model'}; serving baseline {name} "
        f"(wrmsse {_num(metrics, 'wrmsse'):.3f}, bias {bias:.2f}{note})"
    )
    (model,) = build_models([name])
    model.fit(df)
    try:
        previous_challenger: str | None = registry.get_model_info(
            target, alias=registry.CHALLENGER, settings=settings
        ).version
    except ModelNotFoundError:
        previous_challenger = None
    run_id = run_log.log_backtest_run(
        target,
        model.name,
        model,
        {"baseline": name, "fallback": True},
        folds[folds["model"] == name].reset_index(drop=True),
        metrics,
        df,
        settings=settings,
        horizon=horizon,
    )
    info = registry.get_model_info(target, run_id=run_id, settings=settings)
    decided_at = datetime.now(UTC).isoformat(timespec="seconds")
    decision = promotion.PromotionDecision(
        target=target,
        registered_model=info.name,
        promoted=True,
        fallback=True,
        reason=reason,
        challenger_version=info.version,
        challenger_wrmsse=metrics.get("wrmsse"),
        seasonal_naive_wrmsse=overall.get(promotion.SEASONAL_NAIVE, {}).get("wrmsse"),
        challenger_bias=metrics.get("bias"),
        margin=settings.promotion_margin,
        decided_at=decided_at,
    )
    with mlflow_session.tracking_session(settings) as client:
        client.set_registered_model_alias(info.name, registry.CHAMPION, info.version)
        if previous_challenger is None:  # a baseline is no challenger: leave @challenger as it was
            client.delete_registered_model_alias(info.name, registry.CHALLENGER)
        else:
            client.set_registered_model_alias(info.name, registry.CHALLENGER, previous_challenger)
        tags = {
            FALLBACK_TAG: "baseline",
            "promotion": "baseline_fallback",
            "promotion_reason": reason[:5000],
            "promoted_at": decided_at,
        }
        for key, value in tags.items():
            client.set_model_version_tag(info.name, info.version, key, value)
        client.update_model_version(info.name, info.version, description=f"Baseline fallback @champion: {reason}")
        client.set_tag(run_id, FALLBACK_TAG, "baseline")
        client.set_tag(run_id, "trendcast.promotion", "baseline_fallback")
        client.set_tag(run_id, "trendcast.promotion_reason", reason[:5000])
        client.log_dict(run_id, decision.model_dump(mode="json"), "promotion_decision.json")
    log.warning("%s v%s (%s) serves as @%s: %s", info.name, info.version, name, registry.CHAMPION, reason)
    return decision


def fill_missing_forecasts(predictions: pd.DataFrame, history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Items with a non-finite forecast take the mean of their last 28 days instead (a new frame).

    statsforecast's SeasonalNaive gives NaN where an item has less than a season of history (a product launched
    this week); a baseline champion must still forecast every active item.
    """
    from trendcast.forecasting.models.baselines import WindowMean

    values = predictions[forecast_columns()[2:]].to_numpy(dtype=float)
    gaps = predictions.loc[~np.isfinite(values).all(axis=1), ID_COL].unique()
    if not len(gaps):
        return predictions
    log.info("%s items lack a full forecast (too little history): using their 28-day mean", len(gaps))
    filled = WindowMean(28).fit(history[history[ID_COL].isin(gaps)]).predict(horizon)
    kept = predictions[~predictions[ID_COL].isin(gaps)]
    return pd.concat([kept, filled[predictions.columns]], ignore_index=True)
