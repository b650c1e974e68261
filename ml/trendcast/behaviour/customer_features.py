"""Point-in-time customer features (RFM + behaviour) and purchase labels from ``marts.ml_customer_daily_activity``.

Features as of a cutoff T use only activity on or before T; the label "buys within the next ``horizon`` days"
uses only activity in (T, T + horizon]. Customers enter the frame once they have a sale order on or before T.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
import sqlalchemy as sa

from trendcast.exceptions import SchemaContractError
from trendcast.settings import Settings, get_settings

__all__ = [
    "ACTIVITY_TABLE",
    "ACTIVITY_COLUMNS",
    "FEATURE_COLUMNS",
    "RFM_COLUMNS",
    "load_customer_activity",
    "data_cutoff",
    "customer_features",
    "purchase_labels",
]

log = logging.getLogger(__name__)

ACTIVITY_TABLE = "marts.ml_customer_daily_activity"
ACTIVITY_COLUMNS = [
    "customer_key",
    "activity_date",
    "n_orders",
    "n_returns",
    "revenue_sold",
    "revenue_returned",
    "units_sold",
    "units_returned",
    "n_sale_lines",
    "n_views",
    "n_carts",
    "n_favs",
    "n_purchase_events",
    "n_searches",
    "n_sessions",
]
RFM_COLUMNS = ["recency_days", "frequency", "monetary"]
#: Model inputs, in this order (the propensity model's signature).
FEATURE_COLUMNS = [
    *RFM_COLUMNS,
    "tenure_days",
    "avg_basket_value",
    "orders_30d",
    "orders_90d",
    "orders_365d",
    "revenue_90d",
    "revenue_365d",
    "mean_gap_days",
    "overdue_ratio",
    "lines_per_order",
    "return_rate",
    "views_30d",
    "carts_30d",
    "sessions_30d",
    "views_total",
    "cart_rate",
    "days_since_session",
]


def load_customer_activity(settings: Settings | None = None, *, as_of: dt.date | None = None) -> pd.DataFrame:
    """The activity mart (optionally only days up to ``as_of``), sorted by customer and day.

    Raises:
        SchemaContractError: when the mart is missing (run ``trendcast build``) or lacks columns.
    """
    from trendcast.warehouse import connect, table_exists

    settings = settings or get_settings()
    schema, table = ACTIVITY_TABLE.split(".")
    where = "" if as_of is None else " where activity_date <= :as_of"
    with connect(settings) as conn:
        if not table_exists(conn, schema, table):
            raise SchemaContractError(f"{ACTIVITY_TABLE} does not exist: run `trendcast build` first")
        frame = pd.read_sql(
            sa.text(f"select * from {ACTIVITY_TABLE}{where}"), conn, params={} if as_of is None else {"as_of": as_of}
        )
    missing = [c for c in ACTIVITY_COLUMNS if c not in frame.columns]
    if missing:
        raise SchemaContractError(f"{ACTIVITY_TABLE} lacks columns {missing}")
    frame["activity_date"] = pd.to_datetime(frame["activity_date"])
    log.info("read %s customer-days of %s customers", len(frame), frame["customer_key"].nunique())
    return frame.sort_values(["customer_key", "activity_date"]).reset_index(drop=True)


def data_cutoff(activity: pd.DataFrame) -> dt.date:
    """The last day with a sale order."""
    orders = activity.loc[activity["n_orders"] > 0, "activity_date"]
    if orders.empty:
        raise SchemaContractError(f"{ACTIVITY_TABLE} has no sale orders")
    return pd.Timestamp(orders.max()).date()


def _window(history: pd.DataFrame, cutoff: pd.Timestamp, days: int, column: str) -> pd.Series:
    recent = history[history["activity_date"] > cutoff - pd.Timedelta(days=days)]
    return recent.groupby("customer_key")[column].sum()


def customer_features(activity: pd.DataFrame, cutoff: dt.date | str | pd.Timestamp) -> pd.DataFrame:
    """One row per customer with a sale order on or before ``cutoff``: ``customer_key`` + FEATURE_COLUMNS.

    Sorted by customer_key. Behaviour columns are 0 (counts) or NaN (rates, days since) without clickstream.
    """
    cut = pd.Timestamp(cutoff).normalize()
    history = activity[activity["activity_date"] <= cut]
    orders = history[history["n_orders"] > 0]
    if orders.empty:
        return pd.DataFrame(columns=["customer_key", *FEATURE_COLUMNS])
    grouped = history.groupby("customer_key")
    totals = grouped[["n_orders", "revenue_sold", "revenue_returned", "units_sold", "units_returned"]].sum()
    totals = totals.join(grouped[["n_sale_lines", "n_views", "n_carts"]].sum())
    order_dates = orders.groupby("customer_key")["activity_date"].agg(["min", "max"])
    out = order_dates.join(totals, how="left")
    frequency = out["n_orders"].astype("int64")
    recency = (cut - out["max"]).dt.days
    tenure = (cut - out["min"]).dt.days
    gaps = (out["max"] - out["min"]).dt.days / (frequency - 1).where(frequency > 1)
    sessions = history[history["n_sessions"] > 0].groupby("customer_key")["activity_date"].max()

    features = pd.DataFrame(index=out.index)
    features["recency_days"] = recency.astype("int64")
    features["frequency"] = frequency
    features["monetary"] = (out["revenue_sold"] - out["revenue_returned"]).astype(float)
    features["tenure_days"] = tenure.astype("int64")
    features["avg_basket_value"] = out["revenue_sold"] / frequency
    for days in (30, 90, 365):
        features[f"orders_{days}d"] = _window(orders, cut, days, "n_orders").reindex(out.index, fill_value=0)
    for days in (90, 365):
        features[f"revenue_{days}d"] = _window(orders, cut, days, "revenue_sold").reindex(out.index, fill_value=0.0)
    features["mean_gap_days"] = gaps
    features["overdue_ratio"] = recency / gaps
    features["lines_per_order"] = out["n_sale_lines"] / frequency
    features["return_rate"] = (out["units_returned"] / out["units_sold"].where(out["units_sold"] > 0)).fillna(0.0)
    for column, name in (("n_views", "views_30d"), ("n_carts", "carts_30d"), ("n_sessions", "sessions_30d")):
        features[name] = _window(history, cut, 30, column).reindex(out.index, fill_value=0)
    features["views_total"] = out["n_views"].fillna(0)
    features["cart_rate"] = out["n_carts"] / out["n_views"].where(out["n_views"] > 0)
    features["days_since_session"] = (cut - sessions.reindex(out.index)).dt.days.astype(float)
    features = features.astype({c: float for c in FEATURE_COLUMNS if c not in ("recency_days", "frequency")})
    features = features.replace([np.inf, -np.inf], np.nan)
    return features.rename_axis("customer_key").reset_index().sort_values("customer_key").reset_index(drop=True)


def purchase_labels(activity: pd.DataFrame, cutoff: dt.date | str | pd.Timestamp, horizon_days: int = 30) -> pd.Series:
    """1 for customers with a sale order in (cutoff, cutoff + horizon_days], indexed by customer_key.

    Only customers buying in the window appear; reindex on the feature frame's customers with 0.
    """
    cut = pd.Timestamp(cutoff).normalize()
    window = activity[
        (activity["activity_date"] > cut)
        & (activity["activity_date"] <= cut + pd.Timedelta(days=horizon_days))
        & (activity["n_orders"] > 0)
    ]
    return pd.Series(1, index=pd.Index(window["customer_key"].unique(), name="customer_key"), name="label")
