"""Write forecasts back to the warehouse (``forecasts.item_daily_forecast``), one forecast date at a time.

A run replaces exactly the rows of its forecast date (the cutoff: last day of data used), so re-running a
date is idempotent and readers see either the previous run or the new one, never a mix; rows that fail the
forecast suite are never published (:mod:`trendcast.forecasting.publish`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast import warehouse
from trendcast.exceptions import DataValidationError, SchemaContractError
from trendcast.forecasting.models.base import enforce_monotone, level_columns, quantile_columns
from trendcast.forecasting.publish import stage_validate_publish
from trendcast.settings import Settings, get_settings

__all__ = [
    "SCHEMA",
    "TABLE",
    "FORECAST_COLUMNS",
    "ensure_forecast_tables",
    "prepare_forecast_rows",
    "write_forecasts",
]

log = logging.getLogger(__name__)

SCHEMA = "forecasts"
TABLE = "item_daily_forecast"
_QUANTILES = quantile_columns()
#: SQL-safe interval column names -> quantile columns of a forecast frame (also used by the backtest store).
INTERVAL_COLUMNS = {
    "y_hat_lo_95": level_columns(95)[0],
    "y_hat_lo_80": level_columns(80)[0],
    "y_hat_hi_80": level_columns(80)[1],
    "y_hat_hi_95": level_columns(95)[1],
}
#: Column name -> SQL type valid on DuckDB and PostgreSQL, in table order.
FORECAST_COLUMNS: dict[str, str] = {
    "forecast_date": "date not null",
    "item_id": "varchar not null",
    "target_date": "date not null",
    "horizon": "integer not null check (horizon >= 1)",
    "y_hat": "double precision not null",
    **{name: "double precision not null" for name in INTERVAL_COLUMNS},
    **{name: "double precision not null" for name in _QUANTILES},
    "model_name": "varchar not null",
    "model_version": "varchar not null",
    "model_alias": "varchar",
    "mlflow_run_id": "varchar not null",
    "dbt_invocation_id": "varchar not null",
    "validation_run_id": "varchar",
    "written_at": "timestamp not null",
}
_PRIMARY_KEY = ("forecast_date", "item_id", "target_date")


def ensure_forecast_tables(conn: Connection) -> None:
    """Create schema ``forecasts`` and its table when missing (inside the caller's transaction)."""
    q = warehouse.quote_ident
    conn.execute(sa.text(f"create schema if not exists {q(conn, SCHEMA)}"))
    columns = ",\n  ".join(f"{q(conn, name)} {sql_type}" for name, sql_type in FORECAST_COLUMNS.items())
    key = ", ".join(q(conn, c) for c in _PRIMARY_KEY)
    conn.execute(
        sa.text(
            f"create table if not exists {q(conn, SCHEMA)}.{q(conn, TABLE)} (\n  {columns},\n  primary key ({key})\n)"
        )
    )


def _as_date(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def _info(model_info: Any) -> dict[str, Any]:
    """name, version, alias and run_id from a registry ModelInfo, a similar object or a mapping."""
    get = model_info.get if isinstance(model_info, Mapping) else lambda k: getattr(model_info, k, None)
    info = {"name": get("name"), "version": get("version"), "alias": get("alias"), "run_id": get("run_id")}
    missing = [k for k in ("name", "version", "run_id") if not info[k]]
    if missing:
        raise SchemaContractError(f"model_info lacks {', '.join(missing)}: {model_info!r}")
    return info


def prepare_forecast_rows(
    forecast_frame: pd.DataFrame,
    *,
    forecast_date: dt.date | str | pd.Timestamp,
    model_info: Any,
    dbt_invocation_id: str,
    validation_run_id: str | None = None,
    horizon: int | None = None,
    written_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """Validate a Forecaster's output and shape it into table rows (a new frame; the input is untouched).

    Demand is never negative, so the point forecast and quantiles are clipped at 0 and quantiles sorted
    per row (crossing quantiles untangled). Every item must have every horizon 1..h exactly once.

    Raises:
        SchemaContractError: missing columns or bad model_info.
        DataValidationError: NaN/infinite values, target dates on or before the forecast date, duplicated
            or missing (item, horizon) pairs.
    """
    required = ["unique_id", "ds", "y_hat", *_QUANTILES]
    missing = [c for c in required if c not in forecast_frame.columns]
    if missing:
        raise SchemaContractError(f"forecast frame lacks columns: {', '.join(missing)}")
    if forecast_frame.empty:
        raise DataValidationError("forecast frame is empty")
    info = _info(model_info)
    cutoff = _as_date(forecast_date)
    frame = forecast_frame[required].copy()
    values = frame[["y_hat", *_QUANTILES]].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        bad = frame.loc[~np.isfinite(values).all(axis=1), "unique_id"].unique()[:5].tolist()
        raise DataValidationError(f"forecast has NaN or infinite values, e.g. items {bad}")

    target = pd.to_datetime(frame["ds"]).dt.normalize()
    steps = (target - pd.Timestamp(cutoff)).dt.days.astype(int)
    if (steps < 1).any():
        raise DataValidationError(f"forecast has target dates on or before the forecast date {cutoff}")
    frame["unique_id"] = frame["unique_id"].astype(str)
    if pd.DataFrame({"item": frame["unique_id"], "step": steps}).duplicated().any():
        raise DataValidationError("forecast has duplicated (item, target date) rows")
    h = int(horizon or steps.max())
    if steps.max() > h:
        raise DataValidationError(f"forecast reaches horizon {steps.max()}, expected at most {h}")
    per_item = pd.Series(steps.to_numpy()).groupby(frame["unique_id"].to_numpy()).nunique()
    incomplete = per_item[per_item != h]
    if len(incomplete):
        raise DataValidationError(
            f"{len(incomplete)} items lack some of horizons 1..{h}, e.g. {incomplete.index[:5].tolist()}"
        )

    negatives = int((values < 0).any(axis=1).sum())
    if negatives:
        log.info("clipped negative values at 0 in %s of %s forecast rows", negatives, len(frame))
    frame[["y_hat", *_QUANTILES]] = np.clip(values, 0.0, None)
    frame = enforce_monotone(frame)

    # UTC without zone: the column is `timestamp` (without time zone) on both backends.
    stamp = pd.Timestamp(written_at) if written_at is not None else pd.Timestamp.now(tz="UTC")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    rows = pd.DataFrame(
        {
            "forecast_date": pd.Timestamp(cutoff),
            "item_id": frame["unique_id"].to_numpy(),
            "target_date": target.to_numpy(),
            "horizon": steps.to_numpy().astype("int32"),
            "y_hat": frame["y_hat"].to_numpy(),
            **{name: frame[column].to_numpy() for name, column in INTERVAL_COLUMNS.items()},
            **{name: frame[name].to_numpy() for name in _QUANTILES},
            "model_name": str(info["name"]),
            "model_version": str(info["version"]),
            "model_alias": None if info["alias"] is None else str(info["alias"]),
            "mlflow_run_id": str(info["run_id"]),
            "dbt_invocation_id": str(dbt_invocation_id),
            "validation_run_id": validation_run_id,
            "written_at": stamp,
        }
    )
    rows["model_alias"] = rows["model_alias"].astype(object)
    rows["validation_run_id"] = rows["validation_run_id"].astype(object)
    return rows.sort_values(["item_id", "target_date"]).reset_index(drop=True)[list(FORECAST_COLUMNS)]


def write_forecasts(
    forecast_frame: pd.DataFrame,
    *,
    forecast_date: dt.date | str | pd.Timestamp,
    model_info: Any,
    dbt_invocation_id: str,
    validation_run_id: str | None = None,
    settings: Settings | None = None,
    horizon: int | None = None,
) -> int:
    """Validate one forecast date, stage it, check it with its suite and publish it in one transaction,
    replacing that date's previous rows (:mod:`trendcast.forecasting.publish`).

    Args:
        forecast_frame: A Forecaster's ``predict`` output (``unique_id, ds, y_hat, q025 … q975``).
        forecast_date: The cutoff: last day of data the forecast used; horizon 1 is the day after.
        model_info: :class:`trendcast.forecasting.registry.ModelInfo` (or anything with name, version,
            alias, run_id); ``model_name`` is the registered model name, so ``models:/{model_name}/
            {model_version}`` resolves the exact model.
        dbt_invocation_id: The dbt run that built the features the forecast read.
        validation_run_id: The data-quality validation that gated those features.
        horizon: Expected h (default: settings ``forecast_horizon``, else the frame's largest horizon).

    Returns:
        Rows written.

    Raises:
        ForecastRejectedError: the suite failed; the alert was sent and the previous rows stay published.
    """
    settings = settings or get_settings()
    h = horizon or settings.forecast_horizon
    rows = prepare_forecast_rows(
        forecast_frame,
        forecast_date=forecast_date,
        model_info=model_info,
        dbt_invocation_id=dbt_invocation_id,
        validation_run_id=validation_run_id,
        horizon=h,
    )
    cutoff = _as_date(forecast_date)
    with warehouse.connect(settings) as conn:
        ensure_forecast_tables(conn)
    written = stage_validate_publish(
        rows, forecast_date=cutoff, schema=SCHEMA, table=TABLE, columns=FORECAST_COLUMNS, settings=settings, horizon=h
    )
    log.info(
        "wrote %s forecast rows for %s (%s items, %s v%s)",
        written,
        cutoff,
        rows["item_id"].nunique(),
        rows["model_name"].iat[0],
        rows["model_version"].iat[0],
    )
    return written
