"""The ``trendcast`` command line: one sub-command per pipeline step, the same functions the DAGs call."""

from __future__ import annotations

import logging
import shutil
import sys
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
# Tables are wider than the 80 columns rich assumes when output is piped (CI logs, `make demo | tee`).
console = Console() if sys.stdout.isatty() else Console(width=150)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=150)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False) -> None:
    # trendcast's own progress at INFO; libraries (GX, MLflow, dbt adapters) only from WARNING unless -v.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )
    logging.getLogger("trendcast").setLevel(logging.DEBUG if verbose else logging.INFO)


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
    console.print(
        f"wrote {manifest.expected['raw_rows']:,} invoice lines to {out} (manifest.json lists the planted effects)"
    )


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
    console.print(
        f"dbt build ok: {result.n_nodes} nodes in {result.elapsed_s:.1f} s (invocation {result.invocation_id})"
    )


@app.command()
def validate(
    tables: Annotated[
        list[str] | None, typer.Argument(help="Tables to validate, e.g. marts.ml_item_daily_sales.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Validate every table that has a suite.")] = False,
    cutoff: Annotated[
        str | None, typer.Option(help="Expected data cutoff (YYYY-MM-DD); default: last sale day.")
    ] = None,
) -> None:
    """Validate tables with the Great Expectations suites in expectations/; exit 1 when a blocking check fails."""
    from trendcast.quality import validate_tables

    result = validate_tables(
        None if all_ or not tables else tables, expected_cutoff=date.fromisoformat(cutoff) if cutoff else None
    )
    table = Table("suite", "table", "rows", "result", "seconds", title=f"validation run {result.run_id}")
    for suite in result.suites:
        status = "[green]passed[/]" if suite.success else "[bold red]FAILED[/]"
        if suite.outcomes and all(o.skipped for o in suite.outcomes):
            status = "skipped (no rows yet)"
        table.add_row(suite.suite, suite.table, f"{suite.n_rows:,}", status, f"{suite.seconds:.1f}")
    console.print(table)
    for outcome in result.failures:
        console.print(
            f"[red]failed[/] {outcome.suite}: {outcome.check} ({outcome.expectation_type}) "
            f"expected {outcome.expected}, observed {outcome.observed_value}",
            highlight=False,
        )
    for outcome in result.warnings:
        console.print(
            f"[yellow]warning[/] {outcome.suite}: {outcome.check} expected {outcome.expected}", highlight=False
        )
    if result.alert is not None:
        console.print(f"alert: {result.alert.path or result.alert.server}")
    if not result.passed:
        raise typer.Exit(code=1)


@app.command()
def backtest(
    models: Annotated[list[str] | None, typer.Option("--model", "-m", help="Models to compare (repeat).")] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input", help="Long-format csv/parquet (unique_id, ds, y) instead of the mart.")
    ] = None,
    horizon: Annotated[int, typer.Option(help="Days ahead.")] = 28,
    folds: Annotated[int, typer.Option(help="Rolling-origin folds.")] = 3,
) -> None:
    """Rolling-origin backtest of models beside the baselines, on the feature mart or your own series."""
    from trendcast.forecasting.data import load_item_daily_sales, read_series_file
    from trendcast.forecasting.workflow import BASELINES, build_models, leaderboard, run_backtest

    try:
        frame = read_series_file(input_file) if input_file else load_item_daily_sales()
        names = models or [*BASELINES, "xgb"]
        with console.status(f"backtesting {', '.join(names)} on {frame['unique_id'].nunique():,} series"):
            result, evaluation = run_backtest(frame, build_models(names), horizon=horizon, n_folds=folds)
    except TrendcastError as exc:
        raise _fail(exc) from None
    _print_leaderboard(leaderboard(result, evaluation).to_dict("records"), [f"{c:%Y-%m-%d}" for c in result.cutoffs])


@app.command()
def train(
    families: Annotated[list[str] | None, typer.Option("--family", "-f", help="xgb, lstm, transformer.")] = None,
    horizon: Annotated[int | None, typer.Option(help="Days ahead (default: settings).")] = None,
    folds: Annotated[int, typer.Option(help="Rolling-origin folds.")] = 3,
) -> None:
    """Backtest, log to MLflow, register challengers and promote a winner to @champion."""
    from trendcast.forecasting.workflow import train as run_train

    settings = get_settings()
    try:
        with console.status("training and backtesting"):
            report = run_train(
                settings, families=families or ["xgb"], horizon=horizon or settings.forecast_horizon, n_folds=folds
            )
    except TrendcastError as exc:
        raise _fail(exc) from None
    _print_leaderboard(report.leaderboard, report.cutoffs)
    for decision in report.decisions:
        console.print(f"{'promoted' if decision['promoted'] else 'kept champion'}: {decision['reason']}")
    console.print(f"@champion: {report.champion}")


@app.command()
def forecast(
    date_: Annotated[
        str | None, typer.Option("--date", help="Forecast date (YYYY-MM-DD); default: data cutoff.")
    ] = None,
) -> None:
    """Forecast every active item with the @champion and write forecasts.item_daily_forecast for that date."""
    from trendcast.forecasting.workflow import forecast as run_forecast

    try:
        report = run_forecast(forecast_date=date.fromisoformat(date_) if date_ else None)
    except TrendcastError as exc:
        raise _fail(exc) from None
    console.print(
        f"wrote {report.rows:,} forecast rows for {report.items:,} items, forecast date {report.forecast_date} "
        f"({report.model_name} v{report.model_version}, run {report.mlflow_run_id})"
    )


@app.command()
def trends(
    date_: Annotated[str | None, typer.Option("--date", help="As-of date (YYYY-MM-DD); default: data cutoff.")] = None,
) -> None:
    """Rising / falling / stable signals per item and category into trends.item_trend_signals."""
    from trendcast.forecasting.workflow import trends as run_trends

    try:
        report = run_trends(as_of=date.fromisoformat(date_) if date_ else None)
    except TrendcastError as exc:
        raise _fail(exc) from None
    console.print(
        f"{report.rows:,} trend signals as of {report.as_of}: {report.rising} rising, {report.falling} falling items"
    )


@app.command()
def anomalies(
    days: Annotated[int, typer.Option(help="Days to scan back from the data cutoff.")] = 7,
) -> None:
    """Detect anomalous item-days and shop-days, store them in ops.sales_anomalies and send the digest."""
    from trendcast.anomalies import run_daily_anomalies

    try:
        found, delivery = run_daily_anomalies(days=days)
    except TrendcastError as exc:
        raise _fail(exc) from None
    where = (delivery.path or delivery.server) if delivery else "-"
    console.print(f"{len(found):,} anomalies in the last {days} days; digest: {where}")


@app.command()
def sql(query: Annotated[str, typer.Argument(help="A read-only SQL query.")]) -> None:
    """Run a read-only query on the warehouse and print the result (for a quick look; use a SQL client for more)."""
    import pandas as pd

    from trendcast.warehouse import read_only_query

    try:
        frame: pd.DataFrame = read_only_query(query)
    except TrendcastError as exc:
        raise _fail(exc) from None
    table = Table(*map(str, frame.columns))
    for row in frame.head(200).itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    if len(frame) > 200:
        console.print(f"... {len(frame) - 200:,} more rows")


@app.command()
def tables() -> None:
    """List warehouse tables with row counts."""
    from trendcast.pipeline import warehouse_table_counts

    _print_counts(warehouse_table_counts())


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic shop.")] = 42,
    lines: Annotated[int | None, typer.Option(help="Approximate number of invoice lines.")] = None,
    corrupt: Annotated[
        str | None,
        typer.Option(
            help="Corrupt the feature mart after the clean gate (e.g. negative_sales) to see the gate stop it."
        ),
    ] = None,
) -> None:
    """Run the whole pipeline on a synthetic shop on the configured warehouse (DuckDB by default)."""
    from trendcast.pipeline import run_demo

    try:
        with console.status("running the demo pipeline") as status:
            summary = run_demo(seed=seed, n_lines=lines, corrupt=corrupt, on_step=lambda s: status.update(f"{s} …"))
    except TrendcastError as exc:
        raise _fail(exc) from None
    steps = Table("step", "seconds", "what happened", title="pipeline")
    for step in summary.steps:
        steps.add_row(step.step, f"{step.seconds:.1f}", step.detail)
    console.print(steps)
    _print_counts(summary.tables)
    if summary.leaderboard:
        _print_leaderboard(summary.leaderboard, summary.cutoffs)
    if summary.gate_failed:
        console.print(
            f"[bold red]the data-quality gate stopped the pipeline[/] (as intended with --corrupt {corrupt}): "
            f"nothing was trained or written downstream. Alert email: {summary.alert_path}"
        )
    total = sum(s.seconds for s in summary.steps)
    console.print(f"[bold green]done[/] in {total:.1f} s. Warehouse ({summary.warehouse}): {summary.location}")
    console.print(f"Generated files: {summary.data_dir}")
    console.print(
        'Look around: trendcast sql "select * from marts.item_demand_forecasts where is_latest_forecast limit 10"; '
        f"MLflow UI: mlflow ui --backend-store-uri sqlite:///{get_settings().state_path}/mlflow/mlflow.db; "
        f"emails: {get_settings().state_path}/outbox"
    )


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


# -- new commands go above this line (each helper adds its own block with one str_replace) --


def _print_leaderboard(rows: list[dict], cutoffs: list[str]) -> None:
    table = Table(
        "model",
        "WRMSSE",
        "RMSSE",
        "MASE",
        "WAPE",
        "bias",
        "pinball",
        "cov 80",
        "cov 95",
        "fit+predict s",
        title=f"backtest, cutoffs {', '.join(cutoffs)}",
    )
    for r in rows:
        table.add_row(
            r["model"],
            *(f"{r[m]:.3f}" for m in ("wrmsse", "rmsse", "mase", "wape", "bias", "scaled_pinball")),
            *(f"{r[m]:.0%}" for m in ("coverage_80", "coverage_95")),
            f"{r['fit_s'] + r['predict_s']:.1f}",
        )
    console.print(table)


def _print_counts(counts: list) -> None:
    table = Table("schema", "table", "rows", title="warehouse")
    for c in counts:
        table.add_row(c.schema_name, c.table, f"{c.rows:,}")
    console.print(table)


if __name__ == "__main__":
    app()
