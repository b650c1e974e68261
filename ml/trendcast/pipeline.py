"""The pipeline steps chained without a scheduler (``trendcast demo --no-airflow``); ``trendcast demo`` runs the
same steps as Airflow DAGs (:mod:`trendcast.orchestration.demo`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect, list_tables, row_count

__all__ = ["TableCount", "StepTiming", "DemoSummary", "warehouse_table_counts", "run_demo", "WAREHOUSE_SCHEMAS"]

log = logging.getLogger(__name__)

#: The demo trains XGBoost (the benchmark champion) beside these baselines; `trendcast train` adds the torch models.
DEMO_FAMILIES = ("xgb",)
DEMO_BASELINES = ("SeasonalNaive", "AutoETS", "Mean28", "Zero")
WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts", "forecasts", "trends", "scores", "ops")


class TableCount(BaseModel):
    schema_name: str
    table: str
    rows: int


class StepTiming(BaseModel):
    step: str
    seconds: float
    detail: str = ""


class DemoSummary(BaseModel):
    warehouse: str
    location: str
    data_dir: str
    steps: list[StepTiming]
    tables: list[TableCount]
    gate_failed: bool = False
    alert_path: str | None = None
    leaderboard: list[dict] = []
    cutoffs: list[str] = []


def warehouse_table_counts(settings: Settings | None = None) -> list[TableCount]:
    """Row counts of every table and view in the trendcast schemas."""
    counts: list[TableCount] = []
    with connect(settings) as conn:
        for schema in WAREHOUSE_SCHEMAS:
            for table in list_tables(conn, schema):
                counts.append(TableCount(schema_name=schema, table=table, rows=row_count(conn, schema, table)))
    return counts


def run_demo(
    settings: Settings | None = None,
    *,
    seed: int = 42,
    n_lines: int | None = None,
    corrupt: str | None = None,
    families: tuple[str, ...] = DEMO_FAMILIES,
    on_step: Callable[[str], None] | None = None,
) -> DemoSummary:
    """The whole pipeline on a synthetic shop: generate, ingest, dbt build, quality gate, train (backtest,
    MLflow, promotion), forecast write-back, trend signals and the anomaly digest.

    With ``corrupt`` (a kind from :mod:`trendcast.quality.corruptions`) the feature mart is corrupted after
    the clean gate; the gate then fails, its alert lands in the outbox and nothing downstream runs.
    """
    from trendcast import dbt, generate, ingestion
    from trendcast.forecasting import workflow
    from trendcast.quality.corruptions import demo_gate

    settings = settings or get_settings()
    data_dir = settings.state_path / "landing" / f"demo-seed{seed}"
    steps: list[StepTiming] = []

    def timed(step: str, func: Callable[[], str]) -> None:
        if on_step:
            on_step(step)
        started = time.perf_counter()
        detail = func()
        steps.append(StepTiming(step=step, seconds=round(time.perf_counter() - started, 2), detail=detail))
        log.info("%s done in %.1f s: %s", step, steps[-1].seconds, detail)

    def do_generate() -> str:
        kwargs = {"n_lines": n_lines} if n_lines else {}
        manifest = generate.generate(Path(data_dir), seed=seed, **kwargs)
        return f"{manifest.expected['raw_rows']:,} invoice lines in {data_dir}"

    def do_ingest() -> str:
        results = ingestion.ingest_paths([data_dir], settings=settings)
        loaded = sum(r.rows_loaded for r in results)
        skipped = sum(r.skipped for r in results)
        return f"{len(results)} files, {loaded:,} rows loaded, {skipped} already loaded"

    def do_build() -> str:
        result = dbt.build(settings, quiet=True)
        return f"{result.n_nodes} dbt nodes, invocation {result.invocation_id}"

    def do_validate() -> str:
        gates = demo_gate(settings, corrupt=corrupt)
        last = gates[-1]
        if not last.passed:
            summary.gate_failed = True
            summary.alert_path = str(last.alert.path) if last.alert and last.alert.path else None
            return f"FAILED on corrupted data ({corrupt}): {len(last.failures)} blocking expectation(s)"
        return f"passed: {sum(s.n_rows for s in last.suites):,} rows in {len(last.suites)} suites, run {last.run_id}"

    def do_train() -> str:
        report = workflow.train(settings, families=families, baselines=DEMO_BASELINES)
        summary.leaderboard = report.leaderboard
        summary.cutoffs = report.cutoffs
        return f"champion: {report.champion}; " + "; ".join(d["reason"] for d in report.decisions)

    def do_forecast() -> str:
        report = workflow.forecast(settings)
        model = f"{report.model_name} v{report.model_version}"
        return f"{report.rows:,} rows for {report.items:,} items from {report.forecast_date} ({model})"

    def do_trends() -> str:
        report = workflow.trends(settings)
        return f"{report.rising} rising and {report.falling} falling items as of {report.as_of}"

    def do_anomalies() -> str:
        from trendcast.anomalies import run_daily_anomalies

        found, delivery = run_daily_anomalies(settings)
        return f"{len(found)} anomalous item/shop-days in the last 7 days; digest {delivery.path if delivery else '-'}"

    summary = DemoSummary(warehouse=settings.warehouse, location="", data_dir=str(data_dir), steps=steps, tables=[])
    timed("generate", do_generate)
    timed("ingest", do_ingest)
    timed("dbt build", do_build)
    timed("validate", do_validate)
    if not summary.gate_failed:
        timed("train", do_train)
        timed("forecast", do_forecast)
        timed("trends", do_trends)
        timed("anomalies", do_anomalies)
    summary.steps = steps
    summary.location = str(settings.duckdb_file) if settings.warehouse == "duckdb" else settings.sqlalchemy_url
    summary.tables = warehouse_table_counts(settings)
    return summary
