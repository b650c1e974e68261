"""Idempotent write-back of ``scores.*`` tables: one scoring date replaced in one transaction.

Every score table has a ``scoring_date`` (the last day of data the scores used) and a key; :func:`write_scores`
checks a frame against the table's columns and key, then deletes that date's rows and appends the new ones in
one transaction (:func:`trendcast.warehouse.replace_partition`), so re-running a date is safe on DuckDB and
PostgreSQL and readers never see half a run. Other score producers declare their own :class:`ScoreTable`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast import warehouse
from trendcast.exceptions import DataValidationError, SchemaContractError
from trendcast.settings import Settings, get_settings

__all__ = [
    "SCHEMA",
    "ScoreTable",
    "PROPENSITY_TABLE",
    "SEGMENTS_TABLE",
    "BEHAVIOUR_TABLES",
    "ensure_score_table",
    "ensure_score_tables",
    "prepare_score_rows",
    "write_scores",
]

log = logging.getLogger(__name__)

SCHEMA = "scores"


@dataclass(frozen=True)
class ScoreTable:
    """A ``scores.<name>`` table: columns (name -> SQL type valid on DuckDB and PostgreSQL) and primary key."""

    name: str
    columns: Mapping[str, str]
    primary_key: Sequence[str]
    date_column: str = "scoring_date"

    @property
    def not_null(self) -> list[str]:
        return [c for c, t in self.columns.items() if "not null" in t.lower()]


_LINEAGE = {
    "model_name": "varchar not null",
    "model_version": "varchar not null",
    "mlflow_run_id": "varchar not null",
    "written_at": "timestamp not null",
}

PROPENSITY_TABLE = ScoreTable(
    name="customer_purchase_propensity",
    columns={
        "scoring_date": "date not null",
        "customer_key": "varchar not null",
        "purchase_probability": "double precision not null",
        "propensity_decile": "integer not null",
        "horizon_days": "integer not null",
        "recency_days": "integer not null",
        "frequency": "bigint not null",
        "monetary": "double precision not null",
        "model_alias": "varchar",
        **_LINEAGE,
    },
    primary_key=("scoring_date", "customer_key"),
)

SEGMENTS_TABLE = ScoreTable(
    name="customer_segments",
    columns={
        "scoring_date": "date not null",
        "customer_key": "varchar not null",
        "segment_id": "integer not null",
        "segment_name": "varchar not null",
        "n_segments": "integer not null",
        "recency_days": "integer not null",
        "frequency": "bigint not null",
        "monetary": "double precision not null",
        **_LINEAGE,
    },
    primary_key=("scoring_date", "customer_key"),
)

BEHAVIOUR_TABLES: tuple[ScoreTable, ...] = (PROPENSITY_TABLE, SEGMENTS_TABLE)


def ensure_score_table(conn: Connection, table: ScoreTable) -> None:
    """Create schema ``scores`` and the table when missing (inside the caller's transaction)."""
    q = warehouse.quote_ident
    conn.execute(sa.text(f"create schema if not exists {q(conn, SCHEMA)}"))
    columns = ",\n  ".join(f"{q(conn, name)} {sql_type}" for name, sql_type in table.columns.items())
    key = ", ".join(q(conn, c) for c in table.primary_key)
    conn.execute(
        sa.text(
            f"create table if not exists {q(conn, SCHEMA)}.{q(conn, table.name)} "
            f"(\n  {columns},\n  primary key ({key})\n)"
        )
    )


def ensure_score_tables(conn: Connection, tables: Sequence[ScoreTable] = BEHAVIOUR_TABLES) -> None:
    """Create every behaviour score table (``trendcast.outputs.ensure_output_tables`` calls this)."""
    for table in tables:
        ensure_score_table(conn, table)


def _utc_naive(value: dt.datetime | None) -> pd.Timestamp:
    stamp = pd.Timestamp(value) if value is not None else pd.Timestamp.now(tz="UTC")
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def prepare_score_rows(
    frame: pd.DataFrame,
    table: ScoreTable,
    *,
    scoring_date: dt.date | str | pd.Timestamp,
    written_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """The table's rows from ``frame`` (a new frame in table column order; the input is untouched).

    ``scoring_date`` and ``written_at`` are filled in; every other column must be present.

    Raises:
        SchemaContractError: missing columns.
        DataValidationError: nulls / non-finite numbers in not-null columns, or a duplicated key.
    """
    rows = frame.copy()
    rows[table.date_column] = pd.Timestamp(scoring_date).normalize()
    rows["written_at"] = _utc_naive(written_at)
    missing = [c for c in table.columns if c not in rows.columns]
    if missing:
        raise SchemaContractError(f"scores.{table.name}: frame lacks columns {', '.join(missing)}")
    rows = rows[list(table.columns)].reset_index(drop=True)
    for column in table.not_null:
        values = rows[column]
        bad = values.isna()
        if pd.api.types.is_float_dtype(values):
            bad |= ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            raise DataValidationError(f"scores.{table.name}: {int(bad.sum())} null or non-finite values in {column}")
    if rows.duplicated(list(table.primary_key)).any():
        raise DataValidationError(f"scores.{table.name}: duplicated key {list(table.primary_key)}")
    return rows


def write_scores(
    frame: pd.DataFrame,
    table: ScoreTable,
    *,
    scoring_date: dt.date | str | pd.Timestamp,
    settings: Settings | None = None,
    partition: Mapping[str, Any] | None = None,
) -> int:
    """Replace the rows of one scoring date (and ``partition`` values, e.g. a model name) in one transaction.

    Returns:
        Rows written.
    """
    settings = settings or get_settings()
    rows = prepare_score_rows(frame, table, scoring_date=scoring_date)
    day = pd.Timestamp(scoring_date).date()
    where: dict[str, Any] = {table.date_column: day, **dict(partition or {})}
    with warehouse.connect(settings) as conn:
        ensure_score_table(conn, table)
        written = warehouse.replace_partition(conn, SCHEMA, table.name, rows, where=where)
    log.info("wrote %s rows to %s.%s for %s", written, SCHEMA, table.name, day)
    return written
