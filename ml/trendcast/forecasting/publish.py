"""Publish one forecast date only after its suite passed: stage, validate, then swap in one transaction.

The rows are written to ``ops.item_daily_forecast_staged`` first (it holds one candidate at a time: the last one
staged), the ``item_daily_forecast`` suite in ``expectations/`` validates exactly those staged rows through the
data-quality gate (results in ``ops.dq_runs`` / ``ops.dq_results``, Data Docs), and only when every blocking
expectation holds does one transaction replace that date's rows of ``forecasts.item_daily_forecast`` from the
staging table. A failed suite sends the data-quality alert and raises; the previously published forecasts stay
as they were and the rejected rows stay staged for inspection until the next run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast import warehouse
from trendcast.exceptions import DataValidationError
from trendcast.settings import Settings

__all__ = ["STAGED_SCHEMA", "STAGED_TABLE", "FORECAST_SUITE", "ForecastRejectedError", "stage_validate_publish"]

log = logging.getLogger(__name__)

STAGED_SCHEMA = "ops"
STAGED_TABLE = "item_daily_forecast_staged"
FORECAST_SUITE = "item_daily_forecast"


class ForecastRejectedError(DataValidationError):
    """The staged forecast failed a blocking expectation of its suite; nothing was published."""


def _columns_sql(conn: Connection, columns: dict[str, str]) -> str:
    return ", ".join(warehouse.quote_ident(conn, name) for name in columns)


def _stage(rows: pd.DataFrame, columns: dict[str, str], settings: Settings) -> None:
    """Replace the staging table's content with ``rows`` (committed: the gate reads it on its own connection)."""
    q = warehouse.quote_ident
    with warehouse.connect(settings) as conn:
        conn.execute(sa.text(f"create schema if not exists {q(conn, STAGED_SCHEMA)}"))
        definition = ",\n  ".join(f"{q(conn, name)} {sql_type}" for name, sql_type in columns.items())
        conn.execute(
            sa.text(f"create table if not exists {q(conn, STAGED_SCHEMA)}.{q(conn, STAGED_TABLE)} (\n  {definition}\n)")
        )
        conn.execute(sa.text(f"delete from {q(conn, STAGED_SCHEMA)}.{q(conn, STAGED_TABLE)}"))
        warehouse.append_frame(conn, STAGED_SCHEMA, STAGED_TABLE, rows)


def _validate_staged(settings: Settings, horizon: int) -> None:
    """Run the forecast suite on the staged rows through the gate; raise when a blocking expectation fails."""
    from trendcast.quality import load_suites, run_gate
    from trendcast.quality.suites import resolve_suite

    suite = resolve_suite(FORECAST_SUITE, load_suites())
    staged = dataclasses.replace(suite, table=f"{STAGED_SCHEMA}.{STAGED_TABLE}")
    gate = run_gate(
        [staged],
        expected_cutoff=None,
        settings=settings,
        parameters={"forecast_horizon": horizon},
        raise_on_failure=False,
    )
    if not gate.passed:
        from trendcast.quality.gate import format_failures

        raise ForecastRejectedError(
            f"forecast rejected by suite {FORECAST_SUITE} (validation run {gate.run_id}); the previous forecasts "
            f"stay published:\n{format_failures(gate.failures)}"
        )


def _insert_staged(conn: Connection, insert_sql: str, day: dict[str, dt.date]) -> int:
    """Copy the staged rows of the day into the published table (inside the publishing transaction)."""
    return int(conn.execute(sa.text(insert_sql), day).rowcount)


def _publish(
    forecast_date: dt.date, expected: int, schema: str, table: str, columns: dict[str, str], settings: Settings
) -> int:
    """Replace ``forecast_date``'s published rows with the staged ones and empty the staging table, atomically."""
    q = warehouse.quote_ident
    with warehouse.connect(settings) as conn:
        target = f"{q(conn, schema)}.{q(conn, table)}"
        staged = f"{q(conn, STAGED_SCHEMA)}.{q(conn, STAGED_TABLE)}"
        names = _columns_sql(conn, columns)
        day, of_day = {"day": forecast_date}, f"{q(conn, 'forecast_date')} = :day"
        conn.execute(sa.text(f"delete from {target} where {of_day}"), day)
        inserted = _insert_staged(
            conn, f"insert into {target} ({names}) select {names} from {staged} where {of_day}", day
        )
        if inserted != expected:  # rolls the swap back: someone else restaged between validation and publish
            raise DataValidationError(
                f"staged forecast of {forecast_date} changed: {inserted} rows, {expected} validated"
            )
        conn.execute(sa.text(f"delete from {staged}"))
    return int(inserted)


def stage_validate_publish(
    rows: pd.DataFrame,
    *,
    forecast_date: dt.date,
    schema: str,
    table: str,
    columns: dict[str, str],
    settings: Settings,
    horizon: int,
) -> int:
    """Stage ``rows`` (one forecast date, table-shaped), validate them with the forecast suite and publish them.

    Returns:
        Rows published.

    Raises:
        ForecastRejectedError: a blocking expectation failed; the alert was sent and nothing was published.
    """
    _stage(rows, columns, settings)
    _validate_staged(settings, horizon)
    published = _publish(forecast_date, len(rows), schema, table, columns, settings)
    log.info("published %s validated forecast rows for %s", published, forecast_date)
    return published
