"""The ``trendcast`` command line: one sub-command per pipeline step, the same functions the DAGs call."""

from __future__ import annotations

import logging
import shutil
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from trendcast.exceptions import TrendcastError
from trendcast.settings import get_settings

app = typer.Typer(help="trendcast: e-commerce trend prediction pipeline.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )


def _fail(exc: TrendcastError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
    return typer.Exit(code=1)


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Folder for the generated files.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives identical files.")] = 42,
    lines: Annotated[int | None, typer.Option(help="Approximate number of invoice lines.")] = None,
    items: Annotated[int, typer.Option(help="Number of products.")] = 300,
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 1500,
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "2023-01-02",
    days: Annotated[int, typer.Option(help="Number of days.")] = 730,
) -> None:
    """Generate a synthetic shop (transactions, clickstream, product text) with planted effects."""
    from trendcast.generate import generate as run_generate

    kwargs = {"n_lines": lines} if lines else {}
    manifest = run_generate(
        out, seed=seed, n_items=items, n_customers=customers, start=date.fromisoformat(start), days=days, **kwargs
    )
    console.print(f"wrote {manifest.expected['raw_rows']:,} invoice lines to {out} (manifest.json lists the planted effects)")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files (csv, parquet, xlsx) or folders to load.")],
    quarantine: Annotated[
        bool, typer.Option(help="Load good rows and quarantine bad ones instead of rejecting the file.")
    ] = False,
) -> None:
    """Validate and load shop files into raw.*; loading the same file twice adds nothing."""
    from trendcast.ingest import ingest_paths

    try:
        results = ingest_paths(paths, quarantine=quarantine)
    except TrendcastError as exc:
        raise _fail(exc) from None
    table = Table("file", "kind", "batch", "loaded", "quarantined", "status")
    for r in results:
        status = "already loaded" if r.skipped else "loaded"
        table.add_row(r.source_file, r.kind, r.batch_id[:12], f"{r.rows_loaded:,}", f"{r.rows_quarantined:,}", status)
    console.print(table)


@app.command()
def build(select: Annotated[str | None, typer.Option(help="dbt node selection.")] = None) -> None:
    """Run dbt seed + build: staging, intermediate, feature marts and their tests."""
    from trendcast.dbt import build as dbt_build

    try:
        result = dbt_build(select=select)
    except TrendcastError as exc:
        raise _fail(exc) from None
    console.print(f"dbt build ok: {result.n_nodes} nodes in {result.elapsed_s:.1f} s (invocation {result.invocation_id})")


@app.command()
def tables() -> None:
    """List warehouse tables with row counts."""
    from trendcast.pipeline import warehouse_table_counts

    _print_counts(warehouse_table_counts())


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic shop.")] = 42,
    lines: Annotated[int | None, typer.Option(help="Approximate number of invoice lines.")] = None,
) -> None:
    """Run the whole pipeline on a synthetic shop on the configured warehouse (DuckDB by default)."""
    from trendcast.pipeline import run_demo

    try:
        with console.status("running the demo pipeline") as status:
            summary = run_demo(seed=seed, n_lines=lines, on_step=lambda s: status.update(f"{s} …"))
    except TrendcastError as exc:
        raise _fail(exc) from None
    steps = Table("step", "seconds", "what happened", title="pipeline")
    for step in summary.steps:
        steps.add_row(step.step, f"{step.seconds:.1f}", step.detail)
    console.print(steps)
    _print_counts(summary.tables)
    total = sum(s.seconds for s in summary.steps)
    console.print(f"[bold green]done[/] in {total:.1f} s. Warehouse ({summary.warehouse}): {summary.location}")
    console.print(f"Generated files: {summary.data_dir}")
    console.print("Query it: trendcast tables, or duckdb <file> 'select * from marts.ml_item_daily_sales limit 5'")


@app.command()
def clean(yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False) -> None:
    """Remove the state directory (warehouse file, logs, MLflow store, outbox)."""
    state = get_settings().state_path
    if not state.exists():
        console.print(f"nothing to remove: {state} does not exist")
        return
    if not yes and not typer.confirm(f"Remove {state} and everything in it?"):
        raise typer.Exit(code=1)
    shutil.rmtree(state)
    console.print(f"removed {state}")


def _print_counts(counts: list) -> None:
    table = Table("schema", "table", "rows", title="warehouse")
    for c in counts:
        table.add_row(c.schema_name, c.table, f"{c.rows:,}")
    console.print(table)


if __name__ == "__main__":
    app()
