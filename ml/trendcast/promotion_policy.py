"""The one champion/challenger comparison shared by forecasts, propensity and recommendations.

A challenger replaces ``@champion`` only when, on the same evaluation split, its primary metric is better than the
champion's by at least ``settings.promotion_margin`` (relative; 0.02 = 2 %). The margin damps alias churn between
models that are equally good. Each target also names the baselines a challenger must beat (see its train step).
"""

from __future__ import annotations

__all__ = ["improves", "shortfall"]


def improves(challenger: float, reference: float, *, margin: float, higher_is_better: bool) -> bool:
    """Whether ``challenger`` beats ``reference`` by at least the relative ``margin`` (0: strictly better).

    Lower-is-better metrics (WRMSSE, log loss) must be at most ``reference * (1 - margin)``, higher-is-better ones
    (NDCG, ROC-AUC) at least ``reference * (1 + margin)``; equal values never improve.
    """
    if higher_is_better:
        return challenger > reference and challenger >= reference * (1 + margin)
    return challenger < reference and challenger <= reference * (1 - margin)


def shortfall(
    metric: str, challenger: float, reference: float, against: str, *, margin: float, higher_is_better: bool
) -> str | None:
    """None when the challenger improves on ``reference``; else why not, e.g. ``ndcg@10 0.1000 not 2% above
    champion v3's 0.0990``."""
    if improves(challenger, reference, margin=margin, higher_is_better=higher_is_better):
        return None
    way = "above" if higher_is_better else "below"
    by = f"{margin:.0%} " if margin else ""
    return f"{metric} {challenger:.4f} not {by}{way} {against}'s {reference:.4f}"
