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
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast.quality.frames import DERIVED_FRAMES, iter_frames, read_frame, select_sql
from trendcast.quality.outcomes import ExpectationOutcome, SuiteResult
from trendcast.quality.results import previous_stats
from trendcast.quality.suites import ExpectationSpec, SuiteSpec
from trendcast.settings import Settings
from trendcast.warehouse import quote_ident, row_count, table_exists

__all__ = [
    "validate_suite_table",
    "validate_frame",
    "build_parameters",
    "data_docs_dir",
    "new_run_id",
    "SCHEMA_TYPES",
]

log = logging.getLogger(__name__)

_WRITE_BACK_SCHEMAS = ("forecasts", "trends", "scores")

DATA_DOCS_SITE = "trendcast"
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

_PARTIAL_UNEXPECTED = 20
_CONTEXTS: dict[str, Any] = {}


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable, unique validation run id such as ``dq-20240131T060000Z-1a2b3c4d``."""
    now = now or dt.datetime.now(dt.UTC)
    return f"dq-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def data_docs_dir(settings: Settings) -> Path:
    return settings.state_path / "data_docs"


def _context(docs_dir: Path) -> Any:
    """One ephemeral GX context per process and Data Docs folder (building one costs little, importing GX seconds)."""
    key = str(docs_dir)
    if key not in _CONTEXTS:
        # No usage analytics: machines without internet would wait on them, and no data leaves the host.
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.add_data_docs_site(
            site_name=DATA_DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        asset = context.data_sources.add_pandas("trendcast_frames").add_dataframe_asset("frame")
        asset.add_batch_definition_whole_dataframe("whole_frame")
        _CONTEXTS[key] = context
    return _CONTEXTS[key]


def _batch_definition(context: Any) -> Any:
    return context.data_sources.get("trendcast_frames").get_asset("frame").get_batch_definition("whole_frame")


def _run_gx(
    context: Any,
    suite_name: str,
    specs: list[ExpectationSpec],
    frame: pd.DataFrame,
    parameters: Mapping[str, Any],
) -> dict[str, Any]:
    """Run expectations on one frame; return GX's per-expectation results keyed by check name."""
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite

    name = f"{suite_name}-{uuid.uuid4().hex[:12]}"
    expectations = []
    for spec in specs:
        item = spec.to_gx_dict()
        item["meta"]["check"] = spec.check
        expectations.append(item)
    suite = context.suites.add(ExpectationSuite(name=name, expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(data=_batch_definition(context), suite=suite, name=name)
    )
    try:
        needed = {p for spec in specs for p in spec.parameters}
        result = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters={k: v for k, v in parameters.items() if k in needed},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": _PARTIAL_UNEXPECTED},
        )
    finally:
        context.validation_definitions.delete(name)
        context.suites.delete(name)
    return {r.expectation_config.meta["check"]: r for r in result.results}


def _expected_text(spec: ExpectationSpec, parameters: Mapping[str, Any]) -> str:
    """The expectation in words, parameters filled in, e.g. ``values between 0 and 1000000``."""
    from trendcast.quality.outcomes import short_repr

    kw = {
        k: (parameters.get(v["$PARAMETER"]) if isinstance(v, dict) and "$PARAMETER" in v else v)
        for k, v in spec.kwargs.items()
    }
    short = spec.type.removeprefix("expect_")
    parts = []
    if "min_value" in kw or "max_value" in kw:
        lo, hi = kw.get("min_value"), kw.get("max_value")
        parts.append(
            f"between {short_repr(lo) if lo is not None else '-inf'} and {short_repr(hi) if hi is not None else '+inf'}"
        )
    for key in ("value", "value_set", "type_list", "column_set", "regex", "or_equal", "exact_match"):
        if key in kw:
            value = kw[key]
            if isinstance(value, list) and len(value) > 12:
                value = f"{len(value)} values: {short_repr(value[:12], 120)}"
            parts.append(f"{key}={short_repr(value, 300)}")
    if kw.get("mostly") is not None:
        parts.append(f"mostly={kw['mostly']}")
    return f"{short}" + (f" ({', '.join(parts)})" if parts else "")


def _outcome(
    suite: SuiteSpec,
    spec: ExpectationSpec,
    parameters: Mapping[str, Any],
    gx_result: Any | None = None,
    *,
    exception: str | None = None,
    skipped: bool = False,
) -> ExpectationOutcome:
    outcome = ExpectationOutcome(
        suite=suite.name,
        table=suite.table,
        check=spec.check,
        expectation_type=spec.type,
        column=spec.column,
        frame=spec.frame,
        severity=spec.severity,
        success=skipped,
        expected=_expected_text(spec, parameters),
        exception=exception,
        skipped=skipped,
    )
    if gx_result is None:
        return outcome
    result = dict(gx_result.result or {})
    info = gx_result.exception_info or {}
    raised = info.get("raised_exception") if isinstance(info, dict) else False
    if raised:
        outcome.exception = str(info.get("exception_message") or "GX raised an exception")[:500]
        outcome.success = False
        return outcome
    outcome.success = bool(gx_result.success)
    outcome.observed_value = result.get("observed_value")
    outcome.unexpected_count = result.get("unexpected_count")
    outcome.unexpected_percent = result.get("unexpected_percent")
    outcome.element_count = result.get("element_count")
    sample = result.get("partial_unexpected_list")
    if sample is None and result.get("partial_missing_list") is not None:
        sample = result["partial_missing_list"]  # contain_set: the values that are missing
    outcome.unexpected_sample = list(sample or [])
    return outcome


def _sample_with_keys(
    outcome: ExpectationOutcome,
    spec: ExpectationSpec,
    frame: pd.DataFrame,
    key: tuple[str, ...],
    parameters: Mapping[str, Any],
) -> None:
    """For a failed range check on a derived frame, show which day / item is bad, not just the value."""
    if outcome.success or outcome.exception or spec.type != "expect_column_values_to_be_between":
        return
    column = spec.kwargs.get("column")
    if column not in frame.columns or not all(k in frame.columns for k in key):
        return

    def value(name: str) -> Any:
        raw = spec.kwargs.get(name)
        return parameters.get(raw["$PARAMETER"]) if isinstance(raw, dict) and "$PARAMETER" in raw else raw

    values = pd.to_numeric(frame[column], errors="coerce")
    bad = pd.Series(False, index=frame.index)
    if value("min_value") is not None:
        bad |= values < value("min_value")
    if value("max_value") is not None:
        bad |= values > value("max_value")
    rows = frame.loc[bad, [*key, column]].head(_PARTIAL_UNEXPECTED)
    if len(rows):
        outcome.unexpected_sample = [dict(zip(rows.columns, r, strict=True)) for r in rows.itertuples(index=False)]


def _merge_map(outcomes: list[ExpectationOutcome], spec: ExpectationSpec) -> ExpectationOutcome:
    """Combine one row-wise expectation's outcomes over chunks: counts add up, ``mostly`` is re-applied."""
    first = outcomes[0]
    errors = [o.exception for o in outcomes if o.exception]
    if errors:
        first.exception, first.success = errors[0], False
        return first
    elements = sum(o.element_count or 0 for o in outcomes)
    unexpected = sum(o.unexpected_count or 0 for o in outcomes)
    # GX's denominators differ by expectation (non-null rows for most); rebuild them from each chunk's percent.
    denominators = sum(
        (o.unexpected_count or 0) * 100.0 / o.unexpected_percent if o.unexpected_percent else (o.element_count or 0)
        for o in outcomes
    )
    percent = 100.0 * unexpected / denominators if denominators else 0.0
    mostly = spec.kwargs.get("mostly")
    success = unexpected == 0 or (isinstance(mostly, int | float) and percent <= 100.0 * (1 - mostly) + 1e-12)
    sample: list[Any] = []
    for o in outcomes:
        sample.extend(o.unexpected_sample[: _PARTIAL_UNEXPECTED - len(sample)])
    first.element_count, first.unexpected_count, first.unexpected_percent = elements, unexpected, percent
    first.unexpected_sample, first.success = sample, bool(success)
    return first


def _is_row_wise(type_: str) -> bool:
    """True for expectations decided row by row (safe to run per chunk and add up)."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.registry import get_expectation_impl

    if "unique" in type_ and "within_record" not in type_:
        return False
    impl = get_expectation_impl(type_)
    return issubclass(impl, ColumnMapExpectation | ColumnPairMapExpectation | MulticolumnMapExpectation)


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
    context = _context(data_docs_dir(settings))
    available_columns = list(schema_frame.columns)
    outcomes: dict[str, ExpectationOutcome] = {}
    gx_results: dict[str, Any] = {}
    runnable: list[ExpectationSpec] = []
    for spec in suite.expectations:
        absent = [p for p in spec.parameters if parameters.get(p) is None]
        if absent and len(absent) == len(spec.parameters):
            outcomes[spec.check] = _outcome(suite, spec, parameters, skipped=True)
            log.info("%s: %s skipped (no value for %s)", suite.name, spec.check, ", ".join(absent))
            continue
        missing = [c for c in spec.columns if c not in available_columns] if spec.frame == "rows" else []
        if missing:
            outcomes[spec.check] = _outcome(
                suite, spec, parameters, exception=f"column(s) {missing} not in {suite.table}"
            )
            continue
        runnable.append(spec)

    def record(specs: list[ExpectationSpec], frame: pd.DataFrame) -> dict[str, Any]:
        results = _run_gx(context, suite.name, specs, frame, parameters)
        for spec in specs:
            gx_results.setdefault(spec.check, results[spec.check])
        return results

    rows_specs = [s for s in runnable if s.frame == "rows"]
    schema_specs = [s for s in rows_specs if s.type in SCHEMA_TYPES]
    data_specs = [s for s in rows_specs if s.type not in SCHEMA_TYPES]
    chunked = projection is not None
    per_chunk = [s for s in data_specs if not chunked or _is_row_wise(s.type)]
    whole = [s for s in data_specs if s not in per_chunk]

    if schema_specs:
        results = record(schema_specs, schema_frame)
        for spec in schema_specs:
            outcomes[spec.check] = _outcome(suite, spec, parameters, results[spec.check])

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
                chunk_outcomes.setdefault(spec.check, []).append(_outcome(suite, spec, parameters, results[spec.check]))
    if not seen_chunk:  # an empty table: validate an empty frame so "not empty" fails by name
        rows_for_derived = schema_frame.iloc[:0]
        for columns, specs in _grouped_by_columns(per_chunk).items():
            results = record(specs, _narrow(rows_for_derived, columns))
            for spec in specs:
                chunk_outcomes.setdefault(spec.check, []).append(_outcome(suite, spec, parameters, results[spec.check]))
    for spec in per_chunk:
        got = chunk_outcomes.get(spec.check)
        if got:
            outcomes[spec.check] = _merge_map(got, spec) if len(got) > 1 else got[0]
    if whole and projection is not None:
        for columns, specs in _grouped_by_columns(whole).items():
            results = record(specs, _narrow(projection, columns))
            for spec in specs:
                outcomes[spec.check] = _outcome(suite, spec, parameters, results[spec.check])

    if rows_for_derived is None:
        rows_for_derived = schema_frame.iloc[:0]
    derived = _derived(suite, rows_for_derived)
    for frame_name, frame in derived.items():
        specs = [s for s in runnable if s.frame == frame_name]
        if specs:
            results = record(specs, frame)
            key = DERIVED_FRAMES[suite.frames[frame_name]].key
            for spec in specs:
                outcomes[spec.check] = _outcome(suite, spec, parameters, results[spec.check])
                _sample_with_keys(outcomes[spec.check], spec, frame, key, parameters)

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


def _write_data_docs(
    settings: Settings, suite: SuiteSpec, run_id: str, gx_results: list[Any], success: bool, batch: str
) -> str | None:
    """Store one merged validation result and render its Data Docs page; return the page path."""
    if not gx_results:
        return None
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = _context(data_docs_dir(settings))
    n_ok = sum(1 for r in gx_results if r.success)
    merged = ExpectationSuiteValidationResult(
        success=success,
        results=gx_results,
        suite_name=suite.name,
        statistics={
            "evaluated_expectations": len(gx_results),
            "successful_expectations": n_ok,
            "unsuccessful_expectations": len(gx_results) - n_ok,
            "success_percent": 100.0 * n_ok / len(gx_results),
        },
        meta={"run_id": run_id, "table": suite.table, "great_expectations_version": "1.24"},
    )
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
        run_id=RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.UTC)),
        batch_identifier=batch,
    )
    try:
        context.validation_results_store.set(key, merged)
        context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=[key])
    except Exception:  # noqa: BLE001 - docs are a convenience; the gate's verdict must not depend on them
        log.warning("could not build Data Docs for %s", suite.name, exc_info=True)
        return None
    finally:
        _forget(context, key)
    pages = sorted((data_docs_dir(settings) / "validations" / suite.name / run_id).rglob("*.html"))
    return str(pages[-1]) if pages else str(data_docs_dir(settings) / "index.html")


def _forget(context: Any, key: Any) -> None:
    """Drop a stored result from the in-memory store so a long-lived process does not accumulate them."""
    try:
        context.validation_results_store.remove_key(key)
    except Exception:  # noqa: BLE001 - best effort
        log.debug("could not forget validation result %s", key)


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
        result.data_docs_path = _write_data_docs(settings, suite, run_id, gx_results, result.success, suite.table)
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
        if spec.frame == "rows" and spec.type not in SCHEMA_TYPES and (not chunked or _is_row_wise(spec.type)):
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
        if spec.frame == "rows" and not _is_row_wise(spec.type) and spec.type not in SCHEMA_TYPES:
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
        result.data_docs_path = _write_data_docs(settings, suite, run_id, gx_results, result.success, "frame")
    return result
