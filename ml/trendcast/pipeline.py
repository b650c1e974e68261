"""The pipeline steps chained without a scheduler: what ``trendcast demo`` (and later the DAGs) run."""

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
    on_step: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Generate a synthetic shop, ingest it and build the dbt feature marts on the configured warehouse."""
    from trendcast import dbt, generate, ingest

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
        results = ingest.ingest_paths([data_dir], settings=settings)
        loaded = sum(r.rows_loaded for r in results)
        skipped = sum(r.skipped for r in results)
        return f"{len(results)} files, {loaded:,} rows loaded, {skipped} already loaded"

    def do_build() -> str:
        result = dbt.build(settings, quiet=True)
        return f"{result.n_nodes} dbt nodes, invocation {result.invocation_id}"

    timed("generate", do_generate)
    timed("ingest", do_ingest)
    timed("dbt build", do_build)
    location = str(settings.duckdb_file) if settings.warehouse == "duckdb" else settings.sqlalchemy_url
    return DemoSummary(
        warehouse=settings.warehouse,
        location=location,
        data_dir=str(data_dir),
        steps=steps,
        tables=warehouse_table_counts(settings),
    )
