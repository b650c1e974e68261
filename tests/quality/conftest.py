"""Fixtures for the quality tests: a small clean feature mart and forecast table in a throwaway DuckDB."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from trendcast.forecasting.models.base import quantile_columns

N_ITEMS = 20
N_DAYS = 120
CUTOFF = dt.date(2024, 4, 29)
HORIZON = 7
QUANTILES = quantile_columns()  # the forecast contract, not a copy of it


def clean_features(
    n_items: int = N_ITEMS, n_days: int = N_DAYS, cutoff: dt.date = CUTOFF, seed: int = 7
) -> pd.DataFrame:
    """Plausible item x day sales on a zero-filled calendar ending at ``cutoff`` (weekly seasonality, Poisson)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=pd.Timestamp(cutoff), periods=n_days, freq="D")
    frames = []
    for i in range(n_items):
        start = int(rng.integers(0, 10))  # items start selling on slightly different days
        item_dates = dates[start:]
        level = rng.uniform(2, 12)
        weekly = 1 + 0.3 * np.sin(2 * np.pi * item_dates.dayofweek / 7)
        sold = rng.poisson(level * weekly)
        sold[0] = max(sold[0], 1)  # the calendar starts at the first sale
        returned = rng.binomial(sold, 0.03)
        price = np.round(rng.uniform(0.5, 15), 2)
        frames.append(
            pd.DataFrame(
                {
                    "item_id": f"{10000 + i}",
                    "sale_date": item_dates,
                    "units_sold": sold.astype("int64"),
                    "units_returned": returned.astype("int64"),
                    "units_net": (sold - returned).astype("int64"),
                    "revenue_sold": sold * price,
                    "revenue_returned": returned * price,
                    "revenue_net": (sold - returned) * price,
                    # orders follow units with an item-specific pack size, so units per order is stable
                    "n_orders": np.where(sold > 0, np.maximum(1, np.round(sold / rng.uniform(1.5, 3))), 0).astype(
                        "int64"
                    ),
                    "avg_unit_price": price,
                    "price": price,
                    "day_of_week": item_dates.dayofweek.astype("int64"),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    frame["sale_date"] = frame["sale_date"].dt.date
    return frame


def clean_forecast(features: pd.DataFrame, horizon: int = HORIZON, cutoff: dt.date = CUTOFF) -> pd.DataFrame:
    """A forecast run at ``cutoff`` for every item: ordered quantiles and intervals, horizons 1..h."""
    items = sorted(features["item_id"].unique())
    rows = []
    for item in items:
        level = float(features.loc[features["item_id"] == item, "units_sold"].tail(28).mean())
        for h in range(1, horizon + 1):
            qs = np.maximum(0.0, level + np.linspace(-2, 2, len(QUANTILES)) * np.sqrt(level))
            row = {
                "forecast_date": cutoff,
                "item_id": item,
                "target_date": cutoff + dt.timedelta(days=h),
                "horizon": h,
                "y_hat": level,
                "y_hat_lo_95": qs[0],
                "y_hat_lo_80": qs[2],
                "y_hat_hi_80": qs[-3],
                "y_hat_hi_95": qs[-1],
            }
            row.update(dict(zip(QUANTILES, qs, strict=True)))
            row.update(
                model_name="seasonal_naive",
                model_version="1",
                model_alias="champion",
                mlflow_run_id="abc",
                dbt_invocation_id="inv",
                validation_run_id="dq-x",
                written_at=pd.Timestamp("2024-04-30 06:00"),
            )
            rows.append(row)
    return pd.DataFrame(rows)


def write_tables(path, features: pd.DataFrame | None, forecast: pd.DataFrame | None) -> None:
    """Create marts.ml_item_daily_sales and forecasts.item_daily_forecast in a DuckDB file."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        for schema, table, frame in (
            ("marts", "ml_item_daily_sales", features),
            ("forecasts", "item_daily_forecast", forecast),
        ):
            if frame is None:
                continue
            con.execute(f"create schema if not exists {schema}")
            con.register("_frame", frame)
            con.execute(f"create or replace table {schema}.{table} as select * from _frame")
            con.unregister("_frame")


@pytest.fixture(scope="session")
def features_frame() -> pd.DataFrame:
    return clean_features()


@pytest.fixture(scope="session")
def forecast_frame(features_frame: pd.DataFrame) -> pd.DataFrame:
    return clean_forecast(features_frame)
