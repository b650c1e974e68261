"""``ops.dq_runs`` and ``ops.dq_results``: one row per suite run and one per expectation, written atomically.

The same DDL runs on DuckDB and PostgreSQL. A run replaces its own rows (by run id) in one transaction, so
re-writing a run is idempotent and readers never see half of it. ``previous_stats`` reads the last
*successful* run of a suite: a corrupted load never becomes the baseline of the next row-count check.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast.quality.outcomes import to_jsonable
from trendcast.warehouse import append_frame, table_exists

if TYPE_CHECKING:
    from trendcast.quality.outcomes import SuiteResult

__all__ = [
    "OPS_SCHEMA",
    "DQ_RUNS_DDL",
    "DQ_RESULTS_DDL",
    "ensure_ops_tables",
    "write_results",
    "previous_stats",
    "results_frames",
]

log = logging.getLogger(__name__)

OPS_SCHEMA = "ops"
DQ_RUNS_DDL = """
create table if not exists ops.dq_runs (
    run_id varchar not null,
    suite varchar not null,
    table_name varchar not null,
    started_at timestamp not null,
    finished_at timestamp not null,
    success boolean not null,
    n_rows bigint not null,
    n_expectations integer not null,
    n_failed integer not null,
    n_warnings integer not null,
    expected_cutoff date,
    stats_json varchar,
    data_docs_path varchar,
    primary key (run_id, suite)
)"""
DQ_RESULTS_DDL = """
create table if not exists ops.dq_results (
    run_id varchar not null,
    suite varchar not null,
    table_name varchar not null,
    check_name varchar not null,
    expectation_type varchar not null,
    column_name varchar,
    frame varchar not null,
    severity varchar not null,
    success boolean not null,
    skipped boolean not null,
    observed_value varchar,
    expected varchar,
    unexpected_count bigint,
    unexpected_percent double precision,
    element_count bigint,
    unexpected_values varchar,
    exception varchar,
    validated_at timestamp not null,
    primary key (run_id, suite, check_name)
)"""


def ensure_ops_tables(conn: Connection) -> None:
    conn.execute(sa.text(f"create schema if not exists {OPS_SCHEMA}"))
    conn.execute(sa.text(DQ_RUNS_DDL))
    conn.execute(sa.text(DQ_RESULTS_DDL))


def _naive(ts: dt.datetime) -> dt.datetime:
    return ts.astimezone(dt.UTC).replace(tzinfo=None) if ts.tzinfo else ts


def results_frames(results: Sequence[SuiteResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of ops.dq_runs and ops.dq_results for these suite results."""
    runs, rows = [], []
    for r in results:
        runs.append(
            {
                "run_id": r.run_id,
                "suite": r.suite,
                "table_name": r.table,
                "started_at": _naive(r.started_at),
                "finished_at": _naive(r.finished_at),
                "success": r.success,
                "n_rows": r.n_rows,
                "n_expectations": len(r.outcomes),
                "n_failed": len(r.failed),
                "n_warnings": len(r.warnings),
                "expected_cutoff": pd.Timestamp(r.expected_cutoff) if r.expected_cutoff else pd.NaT,
                "stats_json": json.dumps(to_jsonable(r.stats)),
                "data_docs_path": r.data_docs_path,
            }
        )
        for o in r.outcomes:
            observed = to_jsonable(o.observed_value)
            rows.append(
                {
                    "run_id": r.run_id,
                    "suite": r.suite,
                    "table_name": r.table,
                    "check_name": o.check,
                    "expectation_type": o.expectation_type,
                    "column_name": o.column,
                    "frame": o.frame,
                    "severity": o.severity,
                    "success": o.success,
                    "skipped": o.skipped,
                    "observed_value": None if observed is None else json.dumps(observed, default=str)[:4000],
                    "expected": o.expected[:4000],
                    "unexpected_count": o.unexpected_count,
                    "unexpected_percent": o.unexpected_percent,
                    "element_count": o.element_count,
                    "unexpected_values": json.dumps(o.sample(), default=str)[:4000] if o.unexpected_sample else None,
                    "exception": o.exception,
                    "validated_at": _naive(r.finished_at),
                }
            )
    runs_frame = pd.DataFrame(runs)
    runs_frame["expected_cutoff"] = pd.to_datetime(runs_frame.get("expected_cutoff")).dt.date if runs else None
    results_frame = pd.DataFrame(rows)
    if rows:
        for column in ("unexpected_count", "element_count"):
            results_frame[column] = results_frame[column].astype("Int64")
        results_frame["unexpected_percent"] = results_frame["unexpected_percent"].astype("float64")
    return runs_frame, results_frame


def write_results(conn: Connection, results: Sequence[SuiteResult]) -> int:
    """Replace these runs' rows in ops.dq_runs / ops.dq_results inside the caller's transaction."""
    if not results:
        return 0
    ensure_ops_tables(conn)
    run_ids = sorted({r.run_id for r in results})
    for table in ("dq_results", "dq_runs"):
        for run_id in run_ids:
            conn.execute(sa.text(f"delete from {OPS_SCHEMA}.{table} where run_id = :run_id"), {"run_id": run_id})
    runs, rows = results_frames(results)
    append_frame(conn, OPS_SCHEMA, "dq_runs", runs)
    written = append_frame(conn, OPS_SCHEMA, "dq_results", rows)
    log.info("wrote %d expectation results of run(s) %s to ops.dq_results", written, ", ".join(run_ids))
    return written


def previous_stats(conn: Connection, suite: str) -> dict[str, Any]:
    """Stats (rows, items, …) of the suite's last successful run; empty when there is none."""
    if not table_exists(conn, OPS_SCHEMA, "dq_runs"):
        return {}
    stats = conn.execute(
        sa.text(
            f"select stats_json from {OPS_SCHEMA}.dq_runs where suite = :suite and success "
            "order by finished_at desc limit 1"
        ),
        {"suite": suite},
    ).scalar()
    return json.loads(stats) if stats else {}
