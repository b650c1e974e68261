"""Run-time values for suites' ``{"$PARAMETER": name}`` placeholders (cutoff, previous counts, active items)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast.quality.results import previous_stats
from trendcast.quality.suites import SuiteSpec
from trendcast.settings import Settings
from trendcast.warehouse import quote_ident, table_exists

__all__ = ["build_parameters"]

log = logging.getLogger(__name__)


def build_parameters(
    conn: Connection | None,
    suite: SuiteSpec,
    settings: Settings,
    *,
    expected_cutoff: dt.date | None = None,
    scope_value: Any = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Values for the suite's ``$PARAMETER`` placeholders; None where unknown (those expectations are skipped)."""
    needed = {p for e in suite.expectations for p in e.parameters}
    overrides = dict(overrides or {})
    params: dict[str, Any] = {}
    tolerance = settings.dq_row_count_tolerance
    previous = (
        previous_stats(conn, suite.name)
        if conn is not None and needed & {"row_count_min", "row_count_max", "item_count_min", "item_count_max"}
        else {}
    )
    for stat, prefix in (("rows", "row_count"), ("items", "item_count")):
        count = previous.get(stat)
        params[f"{prefix}_min"] = int(count * (1 - tolerance)) if count else None
        params[f"{prefix}_max"] = int(-(-count * (1 + tolerance) // 1)) if count else None
    params["expected_cutoff"] = pd.Timestamp(expected_cutoff) if expected_cutoff else None
    params["min_plausible_date"] = pd.Timestamp("2000-01-01")
    future_days = settings.max_future_days
    params["max_invoice_date"] = pd.Timestamp(dt.date.today() + dt.timedelta(days=future_days + 1))
    params["forecast_horizon"] = settings.forecast_horizon
    if "active_items" in needed and "active_items" not in overrides:
        params["active_items"] = _active_items(conn, settings, scope_value) if conn is not None else None
    params.update(overrides)
    return {k: v for k, v in params.items() if k in needed}


def _active_items(conn: Connection, settings: Settings, forecast_date: Any) -> list[str] | None:
    """Items with a sale in the ``dq_active_item_days`` days up to the forecast date (None without features)."""
    if forecast_date is None or not table_exists(conn, "marts", "ml_item_daily_sales"):
        return None
    days = settings.dq_active_item_days
    end = pd.Timestamp(forecast_date).date()
    start = end - dt.timedelta(days=days - 1)
    table = f"{quote_ident(conn, 'marts')}.{quote_ident(conn, 'ml_item_daily_sales')}"
    rows = conn.execute(
        sa.text(f"select distinct item_id from {table} where units_sold > 0 and sale_date between :a and :b"),
        {"a": start, "b": end},
    ).scalars()
    return sorted(str(r) for r in rows)
