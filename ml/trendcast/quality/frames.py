"""Frames that suites validate: table rows read from the warehouse (whole or in chunks) and derived aggregates.

GX's SQL datasource fails on DuckDB (FACTS.md), so every table is validated as pandas frames on both
warehouses. Derived frames (per day, per item) are pure functions of a narrow projection of the rows, so a
suite can express "no missing day" or "every item's calendar reaches the cutoff" as plain column checks.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast.warehouse import quote_ident

__all__ = [
    "DerivedFrame",
    "DERIVED_FRAMES",
    "item_day_totals",
    "item_calendar",
    "forecast_item_horizons",
    "select_sql",
    "read_frame",
    "iter_frames",
]

log = logging.getLogger(__name__)

# Trailing window (in selling days of the item) for the per-item baseline of item_day_totals.
_BASELINE_SALE_DAYS = 20
_BASELINE_MIN_DAYS = 3


def item_day_totals(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per sale_date: rows, items, units, the gap to the previous date, and a robust level ratio.

    ``rows_per_item`` is 1 on a healthy calendar; a day loaded three times reads 3.

    ``median_item_units_per_order_ratio``: over the items selling that day, the median of (units per order) /
    the item's median units per order on its previous selling days. Busy days (more orders) and one huge
    order barely move it, while a day whose units were multiplied (loaded three times, wrong unit of
    measure) moves it by that factor. Online Retail II stays within 0.5-2.1.
    """
    frame = rows[["item_id", "sale_date", "units_sold", "n_orders"]].dropna(subset=["sale_date"])
    units = pd.to_numeric(frame["units_sold"], errors="coerce")
    orders = pd.to_numeric(frame["n_orders"], errors="coerce")
    frame = frame.assign(units_sold=units, n_orders=orders)
    daily = (
        frame.groupby("sale_date", sort=True)
        .agg(
            n_rows=("item_id", "size"),
            n_items=("item_id", "nunique"),
            units_sold=("units_sold", "sum"),
            n_orders=("n_orders", "sum"),
        )
        .reset_index()
    )
    daily["rows_per_item"] = daily["n_rows"] / daily["n_items"].where(daily["n_items"] > 0)
    daily["days_since_previous"] = daily["sale_date"].diff().dt.days.astype("Float64")
    selling = frame[(frame["units_sold"] > 0) & (frame["n_orders"] > 0)].sort_values(["item_id", "sale_date"])
    if selling.empty:
        daily["median_item_units_per_order_ratio"] = np.nan
        return daily
    per_order = selling["units_sold"] / selling["n_orders"]
    previous = per_order.groupby(selling["item_id"], sort=False).shift(1)
    base = (
        previous.groupby(selling["item_id"], sort=False)
        .rolling(_BASELINE_SALE_DAYS, min_periods=_BASELINE_MIN_DAYS)
        .median()
        .reset_index(level=0, drop=True)
    )
    log_ratio = np.log(per_order / base.reindex(selling.index))
    ratio = (
        pd.DataFrame({"sale_date": selling["sale_date"], "lr": log_ratio})
        .replace([np.inf, -np.inf], np.nan)
        .dropna()
        .groupby("sale_date")["lr"]
        .median()
    )
    daily["median_item_units_per_order_ratio"] = np.exp(daily["sale_date"].map(ratio))
    return daily


def item_calendar(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per item: its rows, first and last date, missing days inside its span, days short of the cutoff."""
    frame = rows[["item_id", "sale_date"]].dropna()
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "item_id",
                "n_rows",
                "first_date",
                "last_date",
                "calendar_gap_days",
                "days_before_cutoff",
            ]
        )
    items = (
        frame.groupby("item_id")
        .agg(n_rows=("sale_date", "nunique"), first_date=("sale_date", "min"), last_date=("sale_date", "max"))
        .reset_index()
    )
    span = (items["last_date"] - items["first_date"]).dt.days + 1
    items["calendar_gap_days"] = span - items["n_rows"]
    items["days_before_cutoff"] = (frame["sale_date"].max() - items["last_date"]).dt.days
    return items


def forecast_item_horizons(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per item and model of a forecast run: distinct horizons and the largest one."""
    frame = rows[["item_id", "model_name", "horizon"]]
    return (
        frame.groupby(["item_id", "model_name"], dropna=False)
        .agg(n_horizons=("horizon", "nunique"), max_horizon=("horizon", "max"))
        .reset_index()
    )


@dataclass(frozen=True)
class DerivedFrame:
    columns: tuple[str, ...]  # input columns read from the table
    build: Callable[[pd.DataFrame], pd.DataFrame]
    key: tuple[str, ...]  # output columns naming a row (shown beside bad values in alerts)


DERIVED_FRAMES: dict[str, DerivedFrame] = {
    "item_day_totals": DerivedFrame(
        ("item_id", "sale_date", "units_sold", "n_orders"), item_day_totals, ("sale_date",)
    ),
    "item_calendar": DerivedFrame(("item_id", "sale_date"), item_calendar, ("item_id",)),
    "forecast_item_horizons": DerivedFrame(
        ("item_id", "model_name", "horizon"), forecast_item_horizons, ("item_id", "model_name")
    ),
}


def select_sql(conn: Connection, table: str, columns: Sequence[str] | None, where: str | None = None) -> str:
    """``select <columns> from schema.table [where …]`` quoted for this dialect."""
    schema, name = table.split(".", 1)
    cols = ", ".join(quote_ident(conn, c) for c in columns) if columns else "*"
    sql = f"select {cols} from {quote_ident(conn, schema)}.{quote_ident(conn, name)}"
    return f"{sql} where {where}" if where else sql


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Make PostgreSQL frames look like DuckDB's: numeric (Decimal) to float, date objects to datetime64.

    Only columns whose non-null values are all Decimal (or all dates) change, so a text column stays a wrong
    type and fails its type check.
    """
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        values = frame[column].dropna()
        if not len(values):
            continue
        if values.map(lambda v: isinstance(v, decimal.Decimal)).all():
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        elif values.map(lambda v: isinstance(v, dt.date)).all():
            frame[column] = pd.to_datetime(frame[column])
    return frame


def read_frame(conn: Connection, sql: str) -> pd.DataFrame:
    """Read a whole query result as a pandas frame (DuckDB natively, PostgreSQL through pandas)."""
    if conn.dialect.name == "duckdb":
        return conn.connection.dbapi_connection.execute(sql).df()
    return _normalise(pd.read_sql(sa.text(sql), conn))


def iter_frames(conn: Connection, sql: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Yield a query result in frames of about ``chunk_rows`` rows (DuckDB vectors, PostgreSQL server cursor)."""
    if conn.dialect.name == "duckdb":
        result = conn.connection.dbapi_connection.execute(sql)
        vectors = max(1, chunk_rows // 2048)
        while True:
            chunk = result.fetch_df_chunk(vectors)
            if chunk.empty:
                break
            yield chunk
        return
    streaming = conn.execution_options(stream_results=True, max_row_buffer=chunk_rows)
    for chunk in pd.read_sql(sa.text(sql), streaming, chunksize=chunk_rows):
        yield _normalise(chunk)
