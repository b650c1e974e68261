"""The forecasting model names users type (CLI choices, registry families): one list, imported everywhere."""

from __future__ import annotations

__all__ = ["BASELINES", "MODEL_FAMILIES", "MODEL_NAMES"]

#: Reference models every backtest runs beside trendcast's own (the promotion rule needs SeasonalNaive).
BASELINES = ("SeasonalNaive", "AutoETS", "Zero", "Mean28")
#: Trendcast model families; each becomes a challenger in the registry.
MODEL_FAMILIES = ("xgb", "lstm", "transformer")
#: Every model ``trendcast.forecasting.catalog.build_models`` knows, baselines first.
MODEL_NAMES = (*BASELINES, "AutoTheta", *MODEL_FAMILIES)
