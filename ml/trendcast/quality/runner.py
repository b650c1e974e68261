"""Validate warehouse tables (or frames) with Great Expectations, suite by suite.

Each table is read as pandas frames (GX's SQL datasource is broken on DuckDB, FACTS.md) and validated in an
ephemeral GX context. Tables above ``dq_chunk_rows`` rows are read in chunks: row-wise expectations run on
every chunk and their counts are merged; table-wide ones (row count, uniqueness, min / max / mean) run once
on a projection of just the columns they need. Run-time parameters (expected cutoff, previous row counts,
active items, horizon) fill the suites' ``{"$PARAMETER": name}`` placeholders. One merged result per suite
is rendered into GX Data Docs under ``<state_dir>/data_docs``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast.quality.frames import DERIVED_FRAMES, iter_frames, read_frame, select_sql
from trendcast.quality.gx_engine import data_docs_dir, gx_context, new_run_id, run_gx, write_data_docs
from trendcast.quality.gx_outcomes import is_row_wise, merge_chunks, sample_with_keys, to_outcome
from trendcast.quality.outcomes import ExpectationOutcome, SuiteResult
from trendcast.quality.parameters import build_parameters
from trendcast.quality.suites import ExpectationSpec, SuiteSpec
from trendcast.settings import Settings
from trendcast.warehouse import quote_ident, row_count, table_exists

__all__ = ["validate_suite_table", "validate_frame", "SCHEMA_TYPES"]

log = logging.getLogger(__name__)

_WRITE_BACK_SCHEMAS = ("forecasts", "trends", "scores")

# Expectations about the columns and dtypes: the first chunk answers them for the whole table.
SCHEMA_TYPES = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_table_columns_to_match_ordered_list",
        "expect_table_column_count_to_equal",
        "expect_table_column_count_to_be_between",
        "expect_column_to_exist",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_be_in_type_list",
    }
)


def _derived(suite: SuiteSpec, rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = {}
    for frame_name in suite.frame_names:
        if frame_name == "rows":
            continue
        derived = DERIVED_FRAMES[suite.frames[frame_name]]
        missing = [c for c in derived.columns if c not in rows.columns]
        frames[frame_name] = derived.build(rows) if not missing else pd.DataFrame(columns=list(derived.columns))
    return frames


def _grouped_by_columns(specs: list[ExpectationSpec]) -> dict[tuple[str, ...], list[ExpectationSpec]]:
    """Specs grouped by the columns they read: GX copies the frame per expectation, so give it narrow ones."""
    groups: dict[tuple[str, ...], list[ExpectationSpec]] = {}
    for spec in specs:
        groups.setdefault(tuple(dict.fromkeys(spec.columns)), []).append(spec)
    return groups


def _narrow(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    return frame[list(columns)] if columns else frame.iloc[:, :1]


def _validate_frames(
    suite: SuiteSpec,
    parameters: Mapping[str, Any],
    settings: Settings,
    rows_chunks: Iterable[pd.DataFrame],
    projection: pd.DataFrame | None,
    schema_frame: pd.DataFrame,
) -> tuple[list[ExpectationOutcome], list[Any], pd.DataFrame]:
    """Validate every expectation; return outcomes, GX results (for Data Docs) and the per-item frame.

    ``schema_frame``: zero or a few rows with every column and the table's dtypes (column and type checks).
    ``rows_chunks``: the rows (one frame, or chunks when ``projection`` holds the table-wide columns).
    """
    context = gx_context(data_docs_dir(settings))
    available_columns = list(schema_frame.columns)
    outcomes: dict[str, ExpectationOutcome] = {}
    gx_results: dict[str, Any] = {}
    runnable: list[ExpectationSpec] = []
    for spec in suite.expectations:
        absent = [p for p in spec.parameters if parameters.get(p) is None]
        if absent and len(absent) == len(spec.parameters):
            outcomes[spec.check] = to_outcome(suite, spec, parameters, skipped=True)
            log.info("%s: %s skipped (no value for %s)", suite.name, spec.check, ", ".join(absent))
            continue
        missing = [c for c in spec.columns if c not in available_columns] if spec.frame == "rows" else []
        if missing:
            outcomes[spec.check] = to_outcome(
                suite, spec, parameters, exception=f"column(s) {missing} not in {suite.table}"
            )
            continue
        runnable.append(spec)

    def record(specs: list[ExpectationSpec], frame: pd.DataFrame) -> dict[str, Any]:
        results = run_gx(context, suite.name, specs, frame, parameters)
        for spec in specs:
            gx_results.setdefault(spec.check, results[spec.check])
        return results

    rows_specs = [s for s in runnable if s.frame == "rows"]
    schema_specs = [s for s in rows_specs if s.type in SCHEMA_TYPES]
    data_specs = [s for s in rows_specs if s.type not in SCHEMA_TYPES]
    chunked = projection is not None
    per_chunk = [s for s in data_specs if not chunked or is_row_wise(s.type)]
    whole = [s for s in data_specs if s not in per_chunk]

    if schema_specs:
        results = record(schema_specs, schema_frame)
        for spec in schema_specs:
            outcomes[spec.check] = to_outcome(suite, spec, parameters, results[spec.check])

    chunk_outcomes: dict[str, list[ExpectationOutcome]] = {}
    rows_for_derived = projection
    seen_chunk = False
    for chunk in rows_chunks:
        seen_chunk = True
        if not chunked:
            rows_for_derived = chunk
        for columns, specs in _grouped_by_columns(per_chunk).items():
            results = record(specs, _narrow(chunk, columns))
            for spec in specs:
                chunk_outcomes.setdefault(spec.check, []).append(
                    to_outcome(suite, spec, parameters, results[spec.check])
                )
    if not seen_chunk:  # an empty table: validate an empty frame so "not empty" fails by name
        rows_for_derived = schema_frame.iloc[:0]
        for columns, specs in _grouped_by_columns(per_chunk).items():
            results = record(specs, _narrow(rows_for_derived, columns))
            for spec in specs:
                chunk_outcomes.setdefault(spec.check, []).append(
                    to_outcome(suite, spec, parameters, results[spec.check])
                )
    for spec in per_chunk:
        got = chunk_outcomes.get(spec.check)
        if got:
            outcomes[spec.check] = merge_chunks(got, spec) if len(got) > 1 else got[0]
    if whole and projection is not None:
        for columns, specs in _grouped_by_columns(whole).items():
            results = record(specs, _narrow(projection, columns))
            for spec in specs:
                outcomes[spec.check] = to_outcome(suite, spec, parameters, results[spec.check])

    if rows_for_derived is None:
        rows_for_derived = schema_frame.iloc[:0]
    derived = _derived(suite, rows_for_derived)
    for frame_name, frame in derived.items():
        specs = [s for s in runnable if s.frame == frame_name]
        if specs:
            results = record(specs, frame)
            key = DERIVED_FRAMES[suite.frames[frame_name]].key
            for spec in specs:
                outcomes[spec.check] = to_outcome(suite, spec, parameters, results[spec.check])
                sample_with_keys(outcomes[spec.check], spec, frame, key, parameters)

    ordered = [outcomes[s.check] for s in suite.expectations if s.check in outcomes]
    # Data Docs show the merged numbers: patch the chunk-1 GX result with the merged counts.
    docs = []
    for outcome in ordered:
        gx_result = gx_results.get(outcome.check)
        if gx_result is not None:
            if outcome.unexpected_count is not None and isinstance(gx_result.result, dict):
                gx_result.result.update(
                    unexpected_count=outcome.unexpected_count,
                    element_count=outcome.element_count,
                    unexpected_percent=outcome.unexpected_percent,
                    partial_unexpected_list=outcome.unexpected_sample,
                )
            gx_result.success = outcome.success
            docs.append(gx_result)
    return ordered, docs, derived.get("items", pd.DataFrame())


def _stats(n_rows: int, items: pd.DataFrame) -> dict[str, Any]:
    stats: dict[str, Any] = {"rows": int(n_rows)}
    if "item_id" in items.columns:
        stats["items"] = int(len(items))
    return stats


def validate_suite_table(
    conn: Connection,
    suite: SuiteSpec,
    settings: Settings,
    *,
    run_id: str,
    expected_cutoff: dt.date | None = None,
    overrides: Mapping[str, Any] | None = None,
    data_docs: bool = True,
    missing_ok: bool = False,
) -> SuiteResult:
    """Validate the table a suite guards.

    A missing table is one failed blocking expectation, or a skipped one with ``missing_ok`` (``--all``
    before, say, the first forecast was written).
    """
    started = dt.datetime.now(dt.UTC)
    exists = table_exists(conn, suite.schema_name, suite.table_name)
    # Write-back tables are created empty before the first dbt build; nothing to validate until a run writes.
    unwritten = (
        exists
        and suite.schema_name in _WRITE_BACK_SCHEMAS
        and row_count(conn, suite.schema_name, suite.table_name) == 0
    )
    if not exists or (missing_ok and unwritten):
        outcome = ExpectationOutcome(
            suite=suite.name,
            table=suite.table,
            check="table_exists",
            expectation_type="expect_table_to_exist",
            column=None,
            frame="rows",
            severity="blocking",
            success=missing_ok,
            expected=f"table {suite.table} exists and has rows",
            exception=None if missing_ok else f"table {suite.table} does not exist",
            skipped=missing_ok,
        )
        return SuiteResult(
            run_id=run_id,
            suite=suite.name,
            table=suite.table,
            started_at=started,
            finished_at=dt.datetime.now(dt.UTC),
            outcomes=[outcome],
            n_rows=0,
            expected_cutoff=expected_cutoff,
        )
    # Column names from an empty select: SQLAlchemy's inspector fails on duckdb-engine (pg_collation).
    columns = list(conn.execute(sa.text(select_sql(conn, suite.table, None) + " limit 0")).keys())
    where, scope_value = None, None
    if suite.scope:
        column = suite.scope["latest"]
        table_sql = select_sql(conn, suite.table, [column])
        scope_value = conn.execute(sa.text(f"select max({quote_ident(conn, column)}) from ({table_sql}) t")).scalar()
        if scope_value is not None:
            where = f"{quote_ident(conn, column)} = :scope"
    count_sql = f"select count(*) from ({select_sql(conn, suite.table, None, where)}) t"
    n_rows = int(conn.execute(sa.text(count_sql), {"scope": scope_value} if where else {}).scalar_one())
    parameters = build_parameters(
        conn, suite, settings, expected_cutoff=expected_cutoff, scope_value=scope_value, overrides=overrides
    )
    if where:  # bind the scope value as a literal: DuckDB's native reader takes plain SQL
        where = f"{quote_ident(conn, suite.scope['latest'])} = {_literal(scope_value)}"
    chunk_rows = settings.dq_chunk_rows
    # A few rows with every column: column-set and dtype checks (PostgreSQL needs rows to infer dtypes).
    schema_frame = read_frame(conn, select_sql(conn, suite.table, None, where) + " limit 100")
    if n_rows <= chunk_rows:
        needed = _row_columns(suite, columns, chunked=False)
        chunks: Iterable[pd.DataFrame] = [read_frame(conn, select_sql(conn, suite.table, needed, where))]
        projection = None
    else:
        needed = _projection_columns(suite, columns)
        log.info(
            "%s: %s rows, validating in chunks of %s; table-wide checks on columns %s",
            suite.table,
            f"{n_rows:,}",
            f"{chunk_rows:,}",
            needed,
        )
        projection = read_frame(conn, select_sql(conn, suite.table, needed, where))
        chunk_columns = _row_columns(suite, columns, chunked=True)
        chunks = iter_frames(conn, select_sql(conn, suite.table, chunk_columns, where), chunk_rows)
    outcomes, gx_results, items = _validate_frames(suite, parameters, settings, chunks, projection, schema_frame)
    result = SuiteResult(
        run_id=run_id,
        suite=suite.name,
        table=suite.table,
        started_at=started,
        finished_at=dt.datetime.now(dt.UTC),
        outcomes=outcomes,
        n_rows=n_rows,
        stats=_stats(n_rows, items),
        parameters=parameters,
        expected_cutoff=expected_cutoff,
    )
    if data_docs:
        result.data_docs_path = write_data_docs(settings, suite, run_id, gx_results, result.success, suite.table)
    result.finished_at = dt.datetime.now(dt.UTC)
    log.info(
        "%s: %s rows, %d expectations, %d failed, %d warnings in %.1f s",
        suite.table,
        f"{n_rows:,}",
        len(outcomes),
        len(result.failed),
        len(result.warnings),
        result.seconds,
    )
    return result


def _literal(value: Any) -> str:
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime | pd.Timestamp):
        return f"timestamp '{pd.Timestamp(value).isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"date '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _row_columns(suite: SuiteSpec, available: list[str], *, chunked: bool) -> list[str]:
    """Columns to read for the row checks (and, unchunked, the derived frames); at least one."""
    needed: list[str] = []
    for spec in suite.expectations:
        if spec.frame == "rows" and spec.type not in SCHEMA_TYPES and (not chunked or is_row_wise(spec.type)):
            needed.extend(spec.columns)
    if not chunked:
        for frame_name in suite.frame_names:
            if frame_name != "rows":
                needed.extend(DERIVED_FRAMES[suite.frames[frame_name]].columns)
    needed = [c for c in dict.fromkeys(needed) if c in available]
    return needed or available[:1]


def _projection_columns(suite: SuiteSpec, available: list[str]) -> list[str]:
    """Columns the table-wide and derived checks need; at least one so the row count is right."""
    needed: list[str] = []
    for spec in suite.expectations:
        if spec.frame == "rows" and not is_row_wise(spec.type) and spec.type not in SCHEMA_TYPES:
            needed.extend(spec.columns)
    for frame_name in suite.frame_names:
        if frame_name != "rows":
            needed.extend(DERIVED_FRAMES[suite.frames[frame_name]].columns)
    needed = [c for c in dict.fromkeys(needed) if c in available]
    return needed or available[:1]


def validate_frame(
    frame: pd.DataFrame,
    suite: SuiteSpec | str,
    settings: Settings | None = None,
    *,
    run_id: str | None = None,
    conn: Connection | None = None,
    expected_cutoff: dt.date | None = None,
    overrides: Mapping[str, Any] | None = None,
    data_docs: bool = False,
) -> SuiteResult:
    """Validate an in-memory frame (e.g. a forecast before it is written) against a table's suite.

    Parameters that need the warehouse (previous run, active items) come from ``conn`` when given,
    else from ``overrides``; expectations whose parameters stay unknown are skipped. ``suite`` is a
    SuiteSpec or a suite / table name (``"forecasts.item_daily_forecast"``).
    """
    from trendcast.quality.suites import load_suites, resolve_suite
    from trendcast.settings import get_settings

    settings = settings or get_settings()
    if isinstance(suite, str):
        suite = resolve_suite(suite, load_suites())
    started = dt.datetime.now(dt.UTC)
    run_id = run_id or new_run_id(started)
    scope_value = frame[suite.scope["latest"]].max() if suite.scope and len(frame) else None
    parameters = build_parameters(
        conn, suite, settings, expected_cutoff=expected_cutoff, scope_value=scope_value, overrides=overrides
    )
    outcomes, gx_results, items = _validate_frames(suite, parameters, settings, [frame], None, frame.iloc[:100])
    result = SuiteResult(
        run_id=run_id,
        suite=suite.name,
        table=suite.table,
        started_at=started,
        finished_at=dt.datetime.now(dt.UTC),
        outcomes=outcomes,
        n_rows=len(frame),
        stats=_stats(len(frame), items),
        parameters=parameters,
        expected_cutoff=expected_cutoff,
    )
    if data_docs:
        result.data_docs_path = write_data_docs(settings, suite, run_id, gx_results, result.success, "frame")
    return result
