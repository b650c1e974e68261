"""The long-format contract, quantile naming and monotone quantiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trendcast.bank_holidays import uk_bank_holidays
from trendcast.exceptions import SchemaContractError
from trendcast.forecasting.features import calendar_features
from trendcast.forecasting.frames import fill_daily_gaps, future_frame, validate_series_frame
from trendcast.forecasting.models.base import (
    QUANTILES,
    Forecaster,
    enforce_monotone,
    level_columns,
    quantile_columns,
)


def test_quantile_columns_are_per_mille_with_three_digits() -> None:
    assert quantile_columns() == [
        "q025",
        "q050",
        "q100",
        "q200",
        "q300",
        "q400",
        "q500",
        "q600",
        "q700",
        "q800",
        "q900",
        "q950",
        "q975",
    ]
    assert len(QUANTILES) == 13
    assert level_columns(80) == ("q100", "q900")
    assert level_columns(95) == ("q025", "q975")


def test_enforce_monotone_sorts_each_row_without_touching_the_input() -> None:
    cols = quantile_columns()
    frame = pd.DataFrame([np.arange(13, 0, -1, dtype=float)], columns=cols).assign(y_hat=5.0)
    out = enforce_monotone(frame)
    assert out[cols].iloc[0].tolist() == list(np.arange(1.0, 14.0))
    assert frame["q025"].iloc[0] == 13.0
    assert out["y_hat"].iloc[0] == 5.0


def test_validate_series_frame_names_missing_columns_and_bad_dtypes() -> None:
    bad = pd.DataFrame({"unique_id": ["a"], "ds": ["2024-01-01"]})
    with pytest.raises(SchemaContractError, match="missing columns: y") as err:
        validate_series_frame(bad)
    assert "`ds` has dtype object, expected datetime64" in str(err.value)
    dup = pd.DataFrame({"unique_id": ["a", "a"], "ds": pd.to_datetime(["2024-01-01"] * 2), "y": [1.0, 2.0]})
    with pytest.raises(SchemaContractError, match="1 duplicated"):
        validate_series_frame(dup)


def test_fill_daily_gaps_zero_fills_from_first_day_to_end() -> None:
    df = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b"],
            "ds": pd.to_datetime(["2024-01-01", "2024-01-04", "2024-01-03"]),
            "y": [1.0, 2.0, 3.0],
        }
    )
    out = fill_daily_gaps(df, end="2024-01-05")
    assert out[out.unique_id == "a"]["y"].tolist() == [1.0, 0.0, 0.0, 2.0, 0.0]
    assert out[out.unique_id == "b"]["y"].tolist() == [3.0, 0.0, 0.0]
    fut = future_frame(out, 2)
    assert fut["ds"].dt.strftime("%m-%d").tolist() == ["01-06", "01-07", "01-06", "01-07"]


def test_uk_bank_holidays_and_calendar() -> None:
    got = uk_bank_holidays("2011-01-01", "2011-12-31").strftime("%m-%d").tolist()
    assert got == ["01-03", "04-22", "04-25", "04-29", "05-02", "05-30", "08-29", "12-26", "12-27"]
    cal = calendar_features(pd.to_datetime(["2011-12-24", "2011-12-26", "2011-12-27"]))
    assert cal["days_to_christmas"].tolist() == [1, 365, 364]
    assert cal["is_uk_bank_holiday"].tolist() == [0, 1, 1]
    assert cal["day_of_week"].tolist() == [6, 1, 2]  # ISO, as dbt: Saturday, Monday, Tuesday


def test_models_satisfy_the_protocol() -> None:
    from trendcast.forecasting.models.baselines import WindowMean, ZeroForecast, seasonal_naive
    from trendcast.forecasting.models.gbm import GlobalXGBForecaster

    for model in (seasonal_naive(), ZeroForecast(), WindowMean(), GlobalXGBForecaster()):
        assert isinstance(model, Forecaster)


def test_lag_features_look_back_at_least_28_days() -> None:
    from trendcast.forecasting.features import lag_features

    ds = pd.date_range("2024-01-01", periods=40, freq="D")
    df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(40, dtype=float)})
    out = lag_features(df)
    assert out["lag_28"].iloc[30] == 2.0
    assert out["roll_mean_7_lag28"].iloc[34] == np.mean(np.arange(0, 7))
    assert np.isnan(out["lag_28"].iloc[27])
    assert {"day_of_week", "month", "is_uk_bank_holiday", "days_to_christmas"} <= set(out.columns)
