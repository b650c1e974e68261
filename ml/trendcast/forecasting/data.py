"""The data contract between dbt and Python: the feature mart read as a long-format series frame.

``marts.ml_item_daily_sales`` (one row per item and day, zero-filled from each item's first sale) becomes
``unique_id, ds, y`` plus exogenous columns, read through SQLAlchemy the same way on DuckDB and PostgreSQL.
Python reads only ``ml_`` marts, never staging.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from trendcast.exceptions import SchemaContractError
from trendcast.forecasting.frames import ID_COL, TARGET_COL, TIME_COL, validate_series_frame
from trendcast.settings import Settings
from trendcast.warehouse import connect, table_exists

__all__ = ["FEATURE_MART", "EXOGENOUS_COLUMNS", "load_item_daily_sales", "read_series_file", "data_cutoff"]

log = logging.getLogger(__name__)

FEATURE_MART = ("marts", "ml_item_daily_sales")
#: Mart columns passed to models beside ``y``: known for the forecast days (category; price, carried forward) or
#: read from history only (``n_orders``, orders per day: see ``frames.HISTORY_ONLY_COLUMNS``).
EXOGENOUS_COLUMNS = ("price", "category", "n_orders")


def load_item_daily_sales(
    settings: Settings | None = None,
    *,
    as_of: date | None = None,
    target: str = "units_sold",
    min_history_days: int = 0,
) -> pd.DataFrame:
    """Read the feature mart as ``unique_id, ds, y, price, category, n_orders`` up to ``as_of`` (inclusive).

    Items with fewer than ``min_history_days`` days on the zero-filled calendar are left out.
    """
    schema, table = FEATURE_MART
    with connect(settings) as conn:
        if not table_exists(conn, schema, table):
            raise SchemaContractError(f"{schema}.{table} does not exist: run `trendcast build` first")
        query = sa.text(
            f"select item_id as {ID_COL}, sale_date as {TIME_COL}, cast({target} as double precision) as {TARGET_COL}, "
            f"price, category, cast(n_orders as double precision) as n_orders from {schema}.{table} "
            "where (:as_of is null or sale_date <= :as_of) order by item_id, sale_date"
        ).bindparams(sa.bindparam("as_of", type_=sa.Date))
        frame = pd.read_sql(query, conn, params={"as_of": as_of})
    frame[TIME_COL] = pd.to_datetime(frame[TIME_COL])
    frame[ID_COL] = frame[ID_COL].astype(str)
    if min_history_days:
        length = frame.groupby(ID_COL)[TIME_COL].transform("size")
        frame = frame[length >= min_history_days].reset_index(drop=True)
    log.info("read %s rows for %s items from %s.%s", len(frame), frame[ID_COL].nunique(), schema, table)
    return validate_series_frame(frame)


def data_cutoff(frame: pd.DataFrame) -> date:
    """The last day in a series frame: the forecast date of a scoring run."""
    return pd.Timestamp(frame[TIME_COL].max()).date()


def read_series_file(path: Path) -> pd.DataFrame:
    """Read a user's long-format csv / parquet (``unique_id, ds, y``) and check the contract."""
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path)
    else:
        raise SchemaContractError(f"{path}: expected a .csv or .parquet file, got {path.suffix!r}")
    missing = {ID_COL, TIME_COL, TARGET_COL} - set(frame.columns)
    if missing:
        raise SchemaContractError(f"{path}: missing columns {sorted(missing)}; found {list(frame.columns)}")
    try:
        frame[TIME_COL] = pd.to_datetime(frame[TIME_COL])
        frame[TARGET_COL] = pd.to_numeric(frame[TARGET_COL])
    except (ValueError, TypeError) as exc:
        raise SchemaContractError(f"{path}: {exc}") from None
    frame[ID_COL] = frame[ID_COL].astype(str)
    return validate_series_frame(frame)
