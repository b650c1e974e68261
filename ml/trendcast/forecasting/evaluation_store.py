"""Write a training run's evaluation to the warehouse: the leaderboard and the backtest forecasts behind it.

``ops.model_leaderboard`` holds one row per (training run, model) with the mean-over-folds metrics;
``forecasts.item_backtest_forecast`` one row per (cutoff, model, item, target date) with the point forecast, the
80 % / 95 % bounds and the actual. Each write is one transaction: a training run replaces its own leaderboard rows,
and the backtest forecasts of a cutoff replace that cutoff's earlier rows, so re-running is idempotent and readers
never see half a run. The dashboard reads both.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast import warehouse
from trendcast.exceptions import SchemaContractError
from trendcast.forecasting.frames import CUTOFF_COL, ID_COL, TARGET_COL, TIME_COL
from trendcast.forecasting.metrics import METRIC_COLUMNS
from trendcast.forecasting.writeback import INTERVAL_COLUMNS
from trendcast.settings import Settings, get_settings

__all__ = [
    "LEADERBOARD_SCHEMA",
    "LEADERBOARD_TABLE",
    "LEADERBOARD_COLUMNS",
    "BACKTEST_SCHEMA",
    "BACKTEST_TABLE",
    "BACKTEST_COLUMNS",
    "ensure_evaluation_tables",
    "leaderboard_rows",
    "backtest_rows",
    "write_leaderboard",
    "write_backtest_forecasts",
    "store_evaluation",
]

log = logging.getLogger(__name__)

LEADERBOARD_SCHEMA = "ops"
LEADERBOARD_TABLE = "model_leaderboard"
BACKTEST_SCHEMA = "forecasts"
BACKTEST_TABLE = "item_backtest_forecast"

#: Column name -> SQL type valid on DuckDB and PostgreSQL, in table order.
LEADERBOARD_COLUMNS: dict[str, str] = {
    "training_run_id": "varchar not null",
    "trained_at": "timestamp not null",
    "target": "varchar not null",
    "model": "varchar not null",
    "rank": "integer not null",
    "is_champion": "boolean not null",
    "is_candidate": "boolean not null",
    **{name: "double precision" for name in METRIC_COLUMNS},
    "fit_s": "double precision",
    "predict_s": "double precision",
    "mlflow_run_id": "varchar",
    "model_version": "varchar",
    "promoted": "boolean",
    "decision": "varchar",
    "cutoffs": "varchar not null",
    "horizon": "integer not null",
}
_LEADERBOARD_KEY = ("training_run_id", "model")

BACKTEST_COLUMNS: dict[str, str] = {
    "cutoff": "date not null",
    "model": "varchar not null",
    "item_id": "varchar not null",
    "target_date": "date not null",
    "horizon": "integer not null check (horizon >= 1)",
    "y": "double precision",
    "y_hat": "double precision not null",
    **{name: "double precision not null" for name in INTERVAL_COLUMNS},
    "training_run_id": "varchar not null",
    "written_at": "timestamp not null",
}
_BACKTEST_KEY = ("cutoff", "model", "item_id", "target_date")


def _create_table(conn: Connection, schema: str, table: str, columns: Mapping[str, str], key: Sequence[str]) -> None:
    q = warehouse.quote_ident
    conn.execute(sa.text(f"create schema if not exists {q(conn, schema)}"))
    body = ",\n  ".join(f"{q(conn, name)} {sql_type}" for name, sql_type in columns.items())
    pk = ", ".join(q(conn, c) for c in key)
    conn.execute(
        sa.text(f"create table if not exists {q(conn, schema)}.{q(conn, table)} (\n  {body},\n  primary key ({pk})\n)")
    )


def ensure_evaluation_tables(conn: Connection) -> None:
    """Create ``ops.model_leaderboard`` and ``forecasts.item_backtest_forecast`` when missing (caller's
    transaction)."""
    _create_table(conn, LEADERBOARD_SCHEMA, LEADERBOARD_TABLE, LEADERBOARD_COLUMNS, _LEADERBOARD_KEY)
    _create_table(conn, BACKTEST_SCHEMA, BACKTEST_TABLE, BACKTEST_COLUMNS, _BACKTEST_KEY)


def _now() -> pd.Timestamp:
    """UTC without zone: the columns are ``timestamp`` (without time zone) on both backends."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def leaderboard_rows(
    board: pd.DataFrame,
    *,
    training_run_id: str,
    cutoffs: Sequence[pd.Timestamp | str | dt.date],
    horizon: int,
    target: str,
    champion: str | None = None,
    candidates: Mapping[str, Mapping[str, Any]] | None = None,
    trained_at: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Shape :func:`trendcast.forecasting.workflow.leaderboard` output into table rows (a new frame).

    Args:
        board: one row per model: ``model``, the metric columns, optionally ``fit_s`` / ``predict_s``.
        champion: the model (family) serving as ``@champion`` after this run, if any.
        candidates: per trendcast model (not baselines): ``mlflow_run_id``, ``model_version``, ``promoted``,
            ``decision``; a baseline serving as fallback champion has ``fallback`` true (no candidate, but its
            row says why it serves).
    """
    missing = [c for c in ("model", *METRIC_COLUMNS) if c not in board.columns]
    if missing:
        raise SchemaContractError(f"leaderboard lacks columns: {', '.join(missing)}")
    candidates = candidates or {}
    rows = board.sort_values("wrmsse", na_position="last").reset_index(drop=True)
    out = pd.DataFrame(
        {
            "training_run_id": training_run_id,
            "trained_at": trained_at if trained_at is not None else _now(),
            "target": target,
            "model": rows["model"].astype(str),
            "rank": range(1, len(rows) + 1),
            "is_champion": rows["model"].eq(champion) if champion else False,
            "is_candidate": rows["model"].isin([m for m, c in candidates.items() if not c.get("fallback")]),
            **{name: rows[name].astype(float) for name in METRIC_COLUMNS},
            **{name: (rows[name].astype(float) if name in rows else float("nan")) for name in ("fit_s", "predict_s")},
        }
    )
    for column in ("mlflow_run_id", "model_version", "promoted", "decision"):
        out[column] = [candidates.get(m, {}).get(column) for m in out["model"]]
        out[column] = out[column].astype(object)
    out["cutoffs"] = ",".join(f"{pd.Timestamp(c):%Y-%m-%d}" for c in cutoffs)
    out["horizon"] = int(horizon)
    out["rank"] = out["rank"].astype("int32")
    out["horizon"] = out["horizon"].astype("int32")
    return out[list(LEADERBOARD_COLUMNS)]


def backtest_rows(
    forecasts: pd.DataFrame, *, training_run_id: str, written_at: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Shape a :class:`~trendcast.forecasting.backtest.BacktestResult`'s long forecasts (``unique_id, ds, cutoff,
    model, y, y_hat, q025 … q975``) into table rows (a new frame)."""
    required = [ID_COL, TIME_COL, CUTOFF_COL, "model", "y_hat", *INTERVAL_COLUMNS.values()]
    missing = [c for c in required if c not in forecasts.columns]
    if missing:
        raise SchemaContractError(f"backtest forecasts lack columns: {', '.join(missing)}")
    cutoff = pd.to_datetime(forecasts[CUTOFF_COL]).dt.normalize()
    target = pd.to_datetime(forecasts[TIME_COL]).dt.normalize()
    out = pd.DataFrame(
        {
            "cutoff": cutoff,
            "model": forecasts["model"].astype(str),
            "item_id": forecasts[ID_COL].astype(str),
            "target_date": target,
            "horizon": (target - cutoff).dt.days.astype("int32"),
            "y": forecasts[TARGET_COL].astype(float) if TARGET_COL in forecasts else float("nan"),
            "y_hat": forecasts["y_hat"].astype(float).clip(lower=0.0),
            **{name: forecasts[col].astype(float).clip(lower=0.0) for name, col in INTERVAL_COLUMNS.items()},
            "training_run_id": training_run_id,
            "written_at": written_at if written_at is not None else _now(),
        }
    )
    # statsforecast's SeasonalNaive leaves NaN where an item has less than a season of history: not a forecast
    missing = out[["y_hat", *INTERVAL_COLUMNS]].isna().any(axis=1)
    if missing.any():
        log.warning("dropped %s backtest rows without a forecast (too little history)", int(missing.sum()))
        out = out[~missing]
    return out[list(BACKTEST_COLUMNS)].reset_index(drop=True)


def write_leaderboard(rows: pd.DataFrame, settings: Settings | None = None) -> int:
    """Replace the leaderboard rows of the training run in ``rows`` (one transaction); rows written."""
    run_ids = rows["training_run_id"].unique()
    if len(run_ids) != 1:
        raise SchemaContractError(f"leaderboard rows must hold exactly one training run, got {list(run_ids)}")
    with warehouse.connect(settings) as conn:
        ensure_evaluation_tables(conn)
        return warehouse.replace_partition(
            conn, LEADERBOARD_SCHEMA, LEADERBOARD_TABLE, rows, where={"training_run_id": str(run_ids[0])}
        )


def write_backtest_forecasts(rows: pd.DataFrame, settings: Settings | None = None) -> int:
    """Replace the backtest forecasts of every cutoff in ``rows``, one transaction per cutoff; rows written."""
    written = 0
    for cutoff, part in rows.groupby("cutoff", sort=True):
        with warehouse.connect(settings) as conn:
            ensure_evaluation_tables(conn)
            written += warehouse.replace_partition(
                conn, BACKTEST_SCHEMA, BACKTEST_TABLE, part, where={"cutoff": pd.Timestamp(cutoff).date()}
            )
    return written


def _candidate_info(decisions: Sequence[Mapping[str, Any]], target: str, settings: Settings) -> dict[str, dict]:
    """Model name -> MLflow run id, registered version and promotion outcome, from train's decisions."""
    from trendcast.forecasting import registry

    info: dict[str, dict] = {}
    for decision in decisions:
        version = decision.get("challenger_version")
        if version is None:
            continue
        model_info = registry.get_model_info(target, version=version, settings=settings)
        name = model_info.family or model_info.name
        info[name] = {
            "mlflow_run_id": model_info.run_id,
            "model_version": str(version),
            "promoted": bool(decision.get("promoted")),
            "decision": decision.get("reason"),
            "fallback": bool(decision.get("fallback")),
        }
    return info


def store_evaluation(
    result: Any,
    board: pd.DataFrame,
    *,
    decisions: Sequence[Mapping[str, Any]] = (),
    champion: str | None = None,
    target: str = "item_demand",
    training_run_id: str | None = None,
    settings: Settings | None = None,
) -> str:
    """Write a training run's leaderboard and backtest forecasts; returns the training run id.

    Args:
        result: the :class:`~trendcast.forecasting.backtest.BacktestResult` (forecasts, cutoffs, horizon).
        board: :func:`trendcast.forecasting.workflow.leaderboard` of that result.
        decisions: ``PromotionDecision`` dicts of the trained families (MLflow run ids are looked up from them).
        champion: the model family serving as ``@champion`` after the run.
    """
    settings = settings or get_settings()
    run_id = training_run_id or uuid.uuid4().hex
    stamp = _now()
    candidates = _candidate_info(decisions, target, settings) if decisions else {}
    rows = leaderboard_rows(
        board,
        training_run_id=run_id,
        cutoffs=result.cutoffs,
        horizon=result.horizon,
        target=target,
        champion=champion,
        candidates=candidates,
        trained_at=stamp,
    )
    n_board = write_leaderboard(rows, settings)
    n_backtest = write_backtest_forecasts(
        backtest_rows(result.forecasts, training_run_id=run_id, written_at=stamp), settings
    )
    log.info("stored training run %s: %s leaderboard rows, %s backtest forecast rows", run_id, n_board, n_backtest)
    return run_id
