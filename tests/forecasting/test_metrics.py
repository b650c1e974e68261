"""Metrics on a hand-computed two-item example (exact values)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trendcast.forecasting.metrics import evaluate
from trendcast.forecasting.models.base import QUANTILES, quantile_column

CUTOFF = pd.Timestamp("2024-01-14")


def _history() -> pd.DataFrame:
    ds = pd.date_range("2024-01-01", periods=16, freq="D")
    a = [1, 2, 3, 4, 5, 6, 7, 2, 2, 4, 4, 6, 6, 8, 3, 5]  # seasonal-7 diffs 1,0,1,0,1,0,1: MAE 4/7, MSE 4/7
    b = [0] * 7 + [2] * 7 + [2, 0]  # diffs all 2: MAE 2, MSE 4
    return pd.DataFrame({"unique_id": ["A"] * 16 + ["B"] * 16, "ds": list(ds) * 2, "y": np.array(a + b, float)})


def _forecasts(point: dict[str, list[float]], quantiles: dict[str, list[float]] | None = None) -> pd.DataFrame:
    hist = _history()
    test = hist[hist["ds"] > CUTOFF].reset_index(drop=True)
    out = test.assign(cutoff=CUTOFF, model="m", y_hat=point["A"] + point["B"])
    for q in QUANTILES:
        col = quantile_column(q)
        out[col] = quantiles[col] if quantiles and col in quantiles else out["y_hat"]
    return out


def test_point_metrics_match_hand_computation() -> None:
    # A: actual 3, 5 vs 4, 4 -> MSE 1, MAE 1; B: actual 2, 0 vs 1, 2 -> MSE 2.5, MAE 1.5
    fc = _forecasts({"A": [4.0, 4.0], "B": [1.0, 2.0]})
    ev = evaluate(fc, _history(), weight_window=7)
    row = ev.overall().loc["m"]
    rmsse_a, rmsse_b = math.sqrt(1 / (4 / 7)), math.sqrt(2.5 / 4)
    assert row["rmsse"] == pytest.approx((rmsse_a + rmsse_b) / 2)
    # weights: units in the last 7 training days, A 32, B 14
    assert row["wrmsse"] == pytest.approx((32 * rmsse_a + 14 * rmsse_b) / 46)
    assert row["mase"] == pytest.approx((1 / (4 / 7) + 1.5 / 2) / 2)
    assert row["wape"] == pytest.approx(5 / 10)
    assert row["bias"] == pytest.approx(11 / 10)
    # degenerate quantiles (all = point): A's mean pinball is 0.5 for every q; B's is (2 - q) / 2, mean q = 0.5
    assert row["scaled_pinball"] == pytest.approx((0.5 / (4 / 7) + 0.75 / 2) / 2)
    assert row["coverage_80"] == 0.0
    per_item = ev.per_item.set_index("unique_id")
    assert per_item.loc["A", "rmsse"] == pytest.approx(rmsse_a)
    assert per_item.loc["B", "bias"] == pytest.approx(3 / 2)
    assert per_item.loc["A", "weight"] == 32


def test_default_weight_window_uses_28_days() -> None:
    fc = _forecasts({"A": [4.0, 4.0], "B": [1.0, 2.0]})
    row = evaluate(fc, _history()).overall().loc["m"]
    rmsse_a, rmsse_b = math.sqrt(1.75), math.sqrt(0.625)
    # the whole 14-day history lies in the window: A 60 units, B 14
    assert row["wrmsse"] == pytest.approx((60 * rmsse_a + 14 * rmsse_b) / 74)


def test_coverage_counts_actuals_inside_the_interval() -> None:
    quantiles = {
        "q100": [3.0, 0.0, 0.0, 1.0],  # actuals 3, 5, 2, 0: inside, above, inside, below
        "q900": [4.0, 4.0, 5.0, 2.0],
        "q025": [0.0] * 4,
        "q975": [10.0] * 4,
    }
    fc = _forecasts({"A": [3.5, 2.0], "B": [2.0, 1.5]}, quantiles)
    fc = fc.assign(
        **{c: np.minimum(fc[c], fc["q900"]) for c in ("q200", "q300", "q400", "q500", "q600", "q700", "q800")}
    )
    row = evaluate(fc, _history()).overall().loc["m"]
    assert row["coverage_80"] == pytest.approx(0.5)
    assert row["coverage_95"] == pytest.approx(1.0)


def test_missing_forecasts_are_an_error() -> None:
    fc = _forecasts({"A": [4.0, 4.0], "B": [1.0, 2.0]})
    other = fc.iloc[:3].assign(model="other")
    with pytest.raises(ValueError, match="other"):
        evaluate(pd.concat([fc, other]), _history())
