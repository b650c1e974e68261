"""The data-quality gate: validate tables, record results, alert, and stop the pipeline on blocking failures.

The gate only reads the validated tables and writes ``ops.*``: when it raises, training and scoring never
start, nothing downstream is written, and the last good forecasts stay as they were.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from trendcast.exceptions import DataValidationError
from trendcast.quality.gx_engine import data_docs_dir, new_run_id
from trendcast.quality.outcomes import ExpectationOutcome, GateResult, SuiteResult
from trendcast.quality.results import write_results
from trendcast.quality.runner import validate_suite_table
from trendcast.quality.suites import SuiteSpec, load_suites, resolve_suite
from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect, table_exists

__all__ = ["GateResult", "run_gate", "validate_tables", "default_expected_cutoff", "format_failures"]

log = logging.getLogger(__name__)


def format_failures(failures: Sequence[ExpectationOutcome], limit: int = 25) -> str:
    lines = [
        f"{o.table} {o.check} [{o.expectation_type}"
        + (f" on {o.column}" if o.column else "")
        + f"]: observed {o.observed}; expected {o.expected}"
        for o in failures[:limit]
    ]
    if len(failures) > limit:
        lines.append(f"... and {len(failures) - limit} more")
    return "\n".join(lines)


def default_expected_cutoff(settings: Settings | None = None) -> dt.date | None:
    """The data cutoff the marts should reach: the last sale date in the warehouse (CONTRACTS.md section 3).

    Read from staging's ``is_sale`` flag when built, else from raw.transactions with the same rules
    approximated (positive quantity and price, not a C/A invoice); None when neither exists.
    """
    with connect(settings) as conn:
        if table_exists(conn, "staging", "stg_shop__transactions"):
            try:
                value = conn.execute(
                    sa.text("select max(cast(invoice_date as date)) from staging.stg_shop__transactions where is_sale")
                ).scalar()
                return _as_date(value)
            except sa.exc.DBAPIError:
                log.debug("staging has no is_sale column; falling back to raw.transactions")
        if table_exists(conn, "raw", "transactions"):
            value = conn.execute(
                sa.text(
                    "select max(cast(invoice_date as date)) from raw.transactions where quantity > 0 and price > 0 "
                    "and upper(substr(invoice, 1, 1)) not in ('C', 'A')"
                )
            ).scalar()
            return _as_date(value)
    return None


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def run_gate(
    tables: Sequence[str | SuiteSpec] | None,
    *,
    expected_cutoff: dt.date | None,
    settings: Settings | None = None,
    parameters: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    alert: bool = True,
    raise_on_failure: bool = True,
    data_docs: bool = True,
) -> GateResult:
    """Validate ``tables`` (suite names, ``schema.table`` or SuiteSpecs; None = every suite) and record the results.

    A table named explicitly must exist; with None, suites whose table does not exist yet are skipped.

    Results go to ops.dq_runs / ops.dq_results in one transaction and to Data Docs. On a blocking failure an
    alert email is sent (or written to the outbox) and, unless ``raise_on_failure`` is False,
    DataValidationError is raised listing the failed expectations. Warnings never stop the gate.
    """
    settings = settings or get_settings()
    suites = load_suites()
    chosen = [t if isinstance(t, SuiteSpec) else resolve_suite(t, suites) for t in tables or ()]
    selected: list[SuiteSpec] = list({s.name: s for s in chosen}.values()) if tables else list(suites.values())
    started = dt.datetime.now(dt.UTC)
    run_id = run_id or new_run_id(started)
    results: list[SuiteResult] = []
    with connect(settings) as conn:
        for suite in selected:
            results.append(
                validate_suite_table(
                    conn,
                    suite,
                    settings,
                    run_id=run_id,
                    expected_cutoff=expected_cutoff,
                    overrides=parameters,
                    data_docs=data_docs,
                    missing_ok=not tables,
                )
            )
    with connect(settings) as conn:
        write_results(conn, results)
    index = data_docs_dir(settings) / "index.html"
    gate = GateResult(
        run_id=run_id,
        started_at=started,
        suites=results,
        expected_cutoff=expected_cutoff,
        data_docs_index=str(index) if index.exists() else None,
    )
    for warning in gate.warnings:
        log.warning("data-quality warning (not blocking): %s", format_failures([warning]))
    if gate.passed:
        log.info("gate %s passed: %d suites, %d warnings", run_id, len(results), len(gate.warnings))
        return gate
    log.error("gate %s failed:\n%s", run_id, format_failures(gate.failures))
    if alert:
        from trendcast.alerts import deliver
        from trendcast.quality.alert import build_validation_alert

        try:
            gate.alert = deliver(build_validation_alert(gate, settings), settings)
        except Exception:  # noqa: BLE001 - a broken mail server must not hide the validation failure
            log.exception("could not deliver the validation alert of run %s", run_id)
    if raise_on_failure:
        raise DataValidationError(
            f"data validation run {run_id} failed {len(gate.failures)} blocking expectation(s):\n"
            + format_failures(gate.failures)
        )
    return gate


def validate_tables(
    tables: Sequence[str] | None,
    *,
    settings: Settings | None = None,
    expected_cutoff: dt.date | None = None,
    parameters: Mapping[str, Any] | None = None,
    alert: bool = True,
) -> GateResult:
    """What ``trendcast validate [TABLE…|--all]`` runs: the gate without raising (check ``.passed``).

    The expected cutoff defaults to the last sale date in the warehouse.
    """
    settings = settings or get_settings()
    if expected_cutoff is None:
        expected_cutoff = default_expected_cutoff(settings)
    return run_gate(
        tables,
        expected_cutoff=expected_cutoff,
        settings=settings,
        parameters=parameters,
        alert=alert,
        raise_on_failure=False,
    )
