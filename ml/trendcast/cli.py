"""The ``trendcast`` command line: one sub-command per pipeline step, the same functions the DAGs call."""

from __future__ import annotations

import errno
import logging
import shutil
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from trendcast.console import console, err_console
from trendcast.elasticity_cli import elasticity_app
from trendcast.exceptions import TrendcastError, UnknownNameError
from trendcast.model_names import MODEL_FAMILIES, MODEL_NAMES
from trendcast.orchestration.demo import DEMO_DAGS
from trendcast.promote import promote_command
from trendcast.settings import Settings, get_settings

#: The one date format options take; click then rejects 'yesterday' or 2024-13-45 with exit code 2.
ISO_DATE = ["%Y-%m-%d"]

#: Model names as choices, so `--help` lists them and a typo exits 2 naming the valid ones.
ModelName = StrEnum("ModelName", {name: name for name in MODEL_NAMES})
ModelFamily = StrEnum("ModelFamily", {name: name for name in MODEL_FAMILIES})
DagId = StrEnum("DagId", {name: name for name in DEMO_DAGS})


def print_error(message: str) -> None:
    """One plain line on stderr, never read as Rich markup (a data cell ``[/]`` prints as typed)."""
    err_console.print(
        Text.assemble(("error: ", "bold red"), " ".join(message.split())), highlight=False, soft_wrap=True
    )


def _disk_full(exc: BaseException) -> OSError | BaseException | None:
    """The error in ``exc``'s chain that says the disk is full, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if (isinstance(seen, OSError) and seen.errno == errno.ENOSPC) or "no space left on device" in str(seen).lower():
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class _TrendcastGroup(TyperGroup):
    """The root command: every user mistake and every trendcast error ends as one line, never a traceback.

    Usage mistakes (a bad date, an unknown model) exit 2 with the valid alternatives, as click's own; trendcast's
    errors and a full disk exit 1. Anything else is a bug and keeps its traceback.
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            print_error("interrupted")
            sys.exit(130)
        except typer.TyperException as exc:  # click's usage errors (exit 2) and other click errors
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if exc.exit_code == 2 and ctx is not None else ""
            print_error(exc.format_message().replace("Value error, ", "") + hint)
            sys.exit(exc.exit_code)
        except UnknownNameError as exc:
            print_error(str(exc))
            sys.exit(2)
        except TrendcastError as exc:
            print_error(str(exc))
            sys.exit(1)
        except Exception as exc:
            full = _disk_full(exc)
            if full is None:
                raise
            where = getattr(full, "filename", None) or get_settings().state_path
            print_error(
                f"the disk is full (writing {where}): free space and run this again; "
                "the warehouse keeps its last committed state"
            )
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(cls=_TrendcastGroup, help="trendcast: e-commerce trend prediction pipeline.", no_args_is_help=True)


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
    """Print ``exc`` as one line; exit 2 for a name the user got wrong, 1 otherwise."""
    print_error(str(exc))
    return typer.Exit(code=2 if isinstance(exc, UnknownNameError) else 1)


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Folder for the generated files.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives identical files.")] = 42,
    lines: Annotated[int | None, typer.Option(help="Approximate number of invoice lines.")] = None,
    items: Annotated[int, typer.Option(help="Number of products.")] = 300,
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 1500,
    start: Annotated[datetime, typer.Option(formats=ISO_DATE, help="First day (YYYY-MM-DD).")] = "2023-01-02",
    days: Annotated[int, typer.Option(help="Number of days.")] = 730,
) -> None:
    """Generate a synthetic shop (transactions, clickstream, product text) with planted effects."""
    from trendcast.generate import generate as run_generate

    kwargs = {"n_lines": lines} if lines else {}
    manifest = run_generate(
        out, seed=seed, n_items=items, n_customers=customers, start=start.date(), days=days, **kwargs
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
    from trendcast.ingestion import ingest_paths

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
def docs(
    serve: Annotated[bool, typer.Option(help="Serve the site after generating it (Ctrl-C stops).")] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8081,
) -> None:
    """dbt docs: every model, column, test and exposure with lineage and the warehouse catalog, as a site."""
    from trendcast.dbt import generate_docs, run_dbt

    try:
        folder = generate_docs()
    except TrendcastError as exc:
        raise _fail(exc) from None
    console.print(f"dbt docs: {folder / 'index.html'}")
    if serve:
        console.print(f"serving on http://localhost:{port} (Ctrl-C stops)")
        run_dbt(["docs", "serve", "--port", str(port), "--no-browser", "--target-path", str(folder)])


@app.command()
def validate(
    tables: Annotated[
        list[str] | None, typer.Argument(help="Tables to validate, e.g. marts.ml_item_daily_sales.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Validate every table that has a suite.")] = False,
    cutoff: Annotated[
        datetime | None,
        typer.Option(formats=ISO_DATE, help="Expected data cutoff (YYYY-MM-DD); default: last sale day."),
    ] = None,
) -> None:
    """Validate tables with the Great Expectations suites in expectations/; exit 1 when a blocking check fails."""
    from trendcast.quality import validate_tables

    result = validate_tables(None if all_ or not tables else tables, expected_cutoff=cutoff.date() if cutoff else None)
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
    models: Annotated[
        list[ModelName] | None,
        typer.Option("--model", "-m", help="Models to compare (repeat)."),
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input",
            exists=True,
            dir_okay=False,
            readable=True,
            help="Long-format csv/parquet (unique_id, ds, y) instead of the mart.",
        ),
    ] = None,
    horizon: Annotated[int, typer.Option(min=1, help="Days ahead.")] = 28,
    folds: Annotated[int, typer.Option(min=1, help="Rolling-origin folds.")] = 3,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Also write leaderboard, per-fold and per-item metrics (.json/.csv)."),
    ] = None,
) -> None:
    """Rolling-origin backtest of models beside the baselines, on the feature mart or your own series."""
    if output is not None and output.suffix.lower() not in (".json", ".csv"):
        raise typer.BadParameter(f"{output}: name a .json or .csv file", param_hint="--output")
    from trendcast.forecasting.data import load_item_daily_sales, read_series_file
    from trendcast.forecasting.workflow import BASELINES, build_models, leaderboard, run_backtest

    try:
        frame = read_series_file(input_file) if input_file else load_item_daily_sales()
        names = [m.value for m in models] if models else [*BASELINES, "xgb"]
        with console.status(f"backtesting {', '.join(names)} on {frame['unique_id'].nunique():,} series"):
            result, evaluation = run_backtest(frame, build_models(names), horizon=horizon, n_folds=folds)
    except TrendcastError as exc:
        raise _fail(exc) from None
    board = leaderboard(result, evaluation)
    _print_leaderboard(board.to_dict("records"), [f"{c:%Y-%m-%d}" for c in result.cutoffs])
    if output is not None:
        from trendcast.forecasting.backtest_report import write_backtest_report

        console.print(f"report: {write_backtest_report(output, result, board, evaluation)}")


@app.command()
def train(
    families: Annotated[
        list[ModelFamily] | None,
        typer.Option("--family", "-f", help="Families to train (repeat)."),
    ] = None,
    horizon: Annotated[int | None, typer.Option(help="Days ahead (default: settings).")] = None,
    folds: Annotated[int, typer.Option(help="Rolling-origin folds.")] = 3,
) -> None:
    """Backtest, log to MLflow, register challengers and promote a winner to @champion."""
    from trendcast.forecasting.workflow import train as run_train

    settings = get_settings()
    try:
        with console.status("training and backtesting"):
            report = run_train(
                settings,
                families=[f.value for f in families] if families else ["xgb"],
                horizon=horizon or settings.forecast_horizon,
                n_folds=folds,
            )
    except TrendcastError as exc:
        raise _fail(exc) from None
    _print_leaderboard(report.leaderboard, report.cutoffs)
    for decision in report.decisions:
        outcome = "baseline fallback" if decision.get("fallback") else "promoted" if decision["promoted"] else "kept"
        console.print(f"{outcome}: {decision['reason']}", highlight=False)
    console.print(f"@champion: {report.champion}{' (baseline fallback)' if report.fallback else ''}")


@app.command()
def forecast(
    date_: Annotated[
        datetime | None,
        typer.Option("--date", formats=ISO_DATE, help="Forecast date (YYYY-MM-DD); default: data cutoff."),
    ] = None,
) -> None:
    """Forecast every active item with the @champion and write forecasts.item_daily_forecast for that date."""
    from trendcast.forecasting.workflow import forecast as run_forecast

    try:
        report = run_forecast(forecast_date=date_.date() if date_ else None)
    except TrendcastError as exc:
        raise _fail(exc) from None
    console.print(
        f"wrote {report.rows:,} forecast rows for {report.items:,} items, forecast date {report.forecast_date} "
        f"({report.model_name} v{report.model_version} {report.family}"
        f"{', baseline fallback' if report.fallback else ''}, run {report.mlflow_run_id})"
    )


@app.command()
def trends(
    date_: Annotated[
        datetime | None, typer.Option("--date", formats=ISO_DATE, help="As-of date (YYYY-MM-DD); default: data cutoff.")
    ] = None,
) -> None:
    """Rising / falling / stable signals per item and category into trends.item_trend_signals."""
    from trendcast.forecasting.workflow import trends as run_trends

    try:
        report = run_trends(as_of=date_.date() if date_ else None)
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
    where = (delivery.path or delivery.server) if delivery else "already sent for this date (unchanged)"
    console.print(f"{len(found):,} anomalies in the last {days} days; digest: {where}")


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One read-only SQL statement.")],
    output_format: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="table (default on a terminal), csv or json; default from --output."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the result to this file (.csv or .json).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many rows (default 200 for table, all otherwise).")
    ] = None,
) -> None:
    """Run a read-only query on the warehouse and print or export the result.

    On DuckDB it reads the snapshot the pipeline publishes after each step, so it never waits for or blocks a
    running step; queries cannot write files (export with --output).
    """
    from trendcast.query import read_only_query
    from trendcast.query_output import format_result, write_atomically

    fmt = output_format or (
        OutputFormat(output.suffix.lstrip(".").lower())
        if output and output.suffix.lower() in (".csv", ".json")
        else OutputFormat.table
    )
    if output is not None and fmt is OutputFormat.table:
        raise typer.BadParameter(
            "--output writes csv or json: name a .csv/.json file or pass --format", param_hint="--output"
        )
    if limit is None and fmt is OutputFormat.table:
        limit = 200
    try:
        result = read_only_query(query, limit=limit)
    except TrendcastError as exc:
        raise _fail(exc) from None
    if fmt is OutputFormat.table:
        table = Table(*result.columns)
        for row in result.rows:
            table.add_row(*(Text("" if v is None else str(v)) for v in row))
        console.print(table)
    else:
        text = format_result(result, fmt.value)
        if output is None:
            sys.stdout.write(text)
        else:
            write_atomically(output, text)
            err_console.print(f"wrote {len(result.rows):,} rows to {output}", markup=False, highlight=False)
    if result.truncated:
        err_console.print(f"... more rows: showing the first {limit:,} (--limit N for more)", markup=False)


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
            help="After the clean runs, corrupt the feature mart (e.g. negative_sales) and run the daily DAG again "
            "to see the quality gate stop it."
        ),
    ] = None,
    no_airflow: Annotated[
        bool, typer.Option("--no-airflow", help="Chain the steps in this process without Airflow (quicker).")
    ] = False,
) -> None:
    """Run the whole pipeline on a synthetic shop through Airflow (ingest, daily and weekly-retrain DAGs)."""
    import time

    if no_airflow:
        _demo_without_airflow(seed, lines, corrupt)
        return
    from trendcast.orchestration.environment import ADMIN_USER, admin_password, apply_airflow_env

    settings = get_settings()
    apply_airflow_env(settings)  # before anything imports airflow: it reads its configuration at import
    from trendcast.orchestration.demo import run_airflow_demo

    started = time.perf_counter()
    try:
        summary = run_airflow_demo(settings, seed=seed, n_lines=lines, corrupt=corrupt, on_step=err_console.print)
    except TrendcastError as exc:
        raise _fail(exc) from None
    wall = time.perf_counter() - started
    for run in summary.runs:
        table = Table("task", "state", "seconds", "result", title=f"{run.dag_id}  {run.run_id}: {run.state}")
        for task in run.tasks:
            colour = "green" if task.state == "success" else "red" if "fail" in task.state else "yellow"
            table.add_row(task.task_id, f"[{colour}]{task.state}[/]", f"{task.seconds:.1f}", task.result)
        console.print(table)
    from trendcast.pipeline import warehouse_table_counts

    _print_counts(warehouse_table_counts(settings))
    _print_stored_leaderboard(settings)
    runs = ", ".join(f"{r.dag_id} {r.seconds:.0f} s" for r in summary.runs)
    state = settings.state_path
    if corrupt and summary.runs and summary.runs[-1].state != "success":
        console.print(
            f"[bold red]the data-quality gate stopped the last trendcast_daily run[/] (as intended with --corrupt "
            f"{corrupt}): nothing was scored or written downstream; alert emails are in {state}/outbox"
        )
    if not summary.succeeded:
        console.print(f"[bold red]a DAG run failed[/]; task logs: {summary.airflow_home}/logs")
        raise typer.Exit(code=1)
    from trendcast.report import write_report

    report = write_report(settings, state / "report.html")
    console.print(f"[bold green]done[/] in {wall:.1f} s through Airflow (setup {summary.setup_s:.0f} s; {runs})")
    console.print(
        "Where to look:\n"
        '  forecasts: trendcast sql "select * from marts.item_demand_forecasts where is_latest limit 10"\n'
        '  trends:    trendcast sql "select * from marts.item_trends limit 10"\n'
        f"  Airflow UI: trendcast airflow up, then http://localhost:{settings.airflow_port} "
        f"(user {ADMIN_USER}, password {admin_password(settings)}); task logs in {summary.airflow_home}/logs\n"
        f"  MLflow UI: mlflow ui --backend-store-uri sqlite:///{state}/mlflow/mlflow.db\n"
        f"  emails (anomaly digest, alerts): {state}/outbox;  GX Data Docs: {state}/data_docs\n"
        f"  report (offline HTML, same views as the dashboard): {report}\n"
        f"  generated files: {summary.data_dir}",
        highlight=False,
    )


def _demo_without_airflow(seed: int, lines: int | None, corrupt: str | None) -> None:
    """The scheduler-free chain (trendcast.pipeline.run_demo): same steps, one process."""
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


@app.command("grant-readonly")
def grant_readonly(
    role: Annotated[str | None, typer.Option(help="Role name (default: TRENDCAST_PG_READONLY_USER).")] = None,
) -> None:
    """Create or update the read-only PostgreSQL role for SQL consumers (marts, forecasts, trends, scores).

    Idempotent. The password comes from TRENDCAST_PG_READONLY_PASSWORD only; raw and staging are never granted.
    """
    from trendcast.roles import OPS_READABLE_TABLES, OPS_SCHEMA, PRIVATE_SCHEMAS, setup_readonly_role

    try:
        result = setup_readonly_role(role=role)
    except TrendcastError as exc:
        raise _fail(exc) from None
    table = Table("schema", "readable tables and views", title=f"role {result.role} on {result.database}")
    by_schema: dict[str, list[str]] = {}
    for name in result.readable:
        schema, _, rel = name.partition(".")
        by_schema.setdefault(schema, []).append(rel)
    for schema, rels in by_schema.items():
        table.add_row(schema, ", ".join(rels))
    console.print(table)
    private = [*PRIVATE_SCHEMAS, f"{OPS_SCHEMA}.* except {', '.join(OPS_READABLE_TABLES)}"]
    console.print(
        f"{'created' if result.created else 'updated'} role {result.role} "
        f"({'password set' if result.password_set else 'password unchanged'}); "
        f"tables {result.owner} creates later in these schemas stay readable; never granted: {'; '.join(private)}",
        highlight=False,
    )


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("trendcast-report.html"),
    items: Annotated[int, typer.Option(help="Top-selling items whose charts the explorer embeds.")] = 20,
) -> None:
    """Write the dashboard's views as one self-contained HTML file (plotly.js inlined: opens offline)."""
    from trendcast.report import write_report

    try:
        path = write_report(get_settings(), out, n_items=items)
    except TrendcastError as exc:
        raise _fail(exc) from None
    console.print(f"report: {path}")


airflow_app = typer.Typer(help="trendcast's own Airflow: setup, local UI, one DAG run.", no_args_is_help=True)
app.add_typer(airflow_app, name="airflow")
app.add_typer(elasticity_app, name="elasticity")


@airflow_app.command("env")
def airflow_env_cmd() -> None:
    """Print the AIRFLOW_* environment (shell `export` lines) to use the airflow CLI on trendcast's Airflow."""
    import shlex

    from trendcast.orchestration.environment import airflow_env

    for key, value in sorted(airflow_env(get_settings()).items()):
        if key.startswith(("AIRFLOW", "TRENDCAST_DBT")):
            print(f"export {key}={shlex.quote(value)}")


@airflow_app.command("setup")
def airflow_setup() -> None:
    """dbt manifest for Cosmos, Airflow metadata database (migrated) and the warehouse pool; idempotent."""
    from trendcast.orchestration.environment import ADMIN_USER, admin_password, apply_airflow_env

    settings = get_settings()
    apply_airflow_env(settings)
    from trendcast.orchestration.setup import setup_airflow

    env = setup_airflow(settings)
    console.print(f"Airflow home {env['AIRFLOW_HOME']}; user {ADMIN_USER}, password {admin_password(settings)}")


@airflow_app.command("up")
def airflow_up(
    port: Annotated[int | None, typer.Option(help="api-server port (default: settings airflow_port, 8080).")] = None,
    host: Annotated[str, typer.Option(help="Interface the api-server listens on (0.0.0.0: all).")] = "127.0.0.1",
) -> None:
    """Start api-server, scheduler, dag-processor and triggerer with this repo's DAGs and plugins (Ctrl-C stops)."""
    import signal
    import time

    from trendcast.orchestration.environment import (
        ADMIN_USER,
        admin_password,
        apply_airflow_env,
        record_running_port,
    )

    settings = get_settings()
    port = port or settings.airflow_port
    env = apply_airflow_env(settings, port=port)
    from trendcast.orchestration.local import running_airflow, wait_healthy
    from trendcast.orchestration.setup import setup_airflow

    setup_airflow(settings)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C, or a SIGTERM from a process manager: either way the components are stopped in the finally block.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)
    log_dir = settings.state_path / "airflow" / "components"
    with running_airflow(env, port=port, log_dir=log_dir, host=host) as procs:
        wait_healthy(f"http://127.0.0.1:{port}", procs=procs)
        record_running_port(settings, port)  # `trendcast airflow env` then prints this port, not the default
        console.print(
            f"Airflow UI: http://localhost:{port}  user {ADMIN_USER}, password {admin_password(settings)}\n"
            f"Component logs: {log_dir}. Ctrl-C stops everything."
        )
        try:
            while all(p.poll() is None for p in procs.values()):
                time.sleep(2)
        except KeyboardInterrupt:
            console.print("stopping Airflow …")
        record_running_port(settings, None)
        dead = [name for name, p in procs.items() if p.poll() is not None]
        if dead:
            console.print(f"[red]stopped:[/] {', '.join(dead)}; see {log_dir}")


@airflow_app.command("run")
def airflow_run(
    dag_id: Annotated[DagId, typer.Argument(help="The DAG to run.")],
    date_: Annotated[
        datetime | None,
        typer.Option(
            "--date", formats=ISO_DATE, help="Logical date (YYYY-MM-DD, a past date = backfill); default now."
        ),
    ] = None,
) -> None:
    """One DAG run with dag.test() in this process (every task recorded in the metadata DB)."""
    import datetime as dt

    from trendcast.orchestration.environment import apply_airflow_env

    apply_airflow_env(get_settings())
    from trendcast.orchestration.demo import load_dags, run_dag

    logical = date_.replace(tzinfo=dt.UTC) if date_ else None
    run = run_dag(load_dags((dag_id.value,))[dag_id.value], logical)
    table = Table("task", "state", "seconds", "result", title=f"{run.dag_id} {run.run_id}: {run.state}")
    for task in run.tasks:
        table.add_row(task.task_id, task.state, f"{task.seconds:.1f}", task.result)
    console.print(table)
    print(run.model_dump_json())
    if run.state != "success":
        raise typer.Exit(code=1)


@app.command()
def propensity(
    train_: Annotated[bool, typer.Option("--train", help="Evaluate, register and promote a new model first.")] = False,
    date_: Annotated[
        datetime | None,
        typer.Option("--date", formats=ISO_DATE, help="Scoring date (YYYY-MM-DD); default: data cutoff."),
    ] = None,
) -> None:
    """Purchase propensity (buys within 30 days): optional retrain, then @champion scores into
    scores.customer_purchase_propensity."""
    from trendcast.behaviour.propensity import score_propensity, train_propensity

    settings = get_settings()
    try:
        if train_:
            with console.status("evaluating and training the propensity model"):
                report = train_propensity(settings)
            table = Table(
                "model", "ROC-AUC", "PR-AUC", "log loss", "ECE", title=f"split {report.evaluation.eval_cutoff}"
            )
            for name, m in report.evaluation.metrics.items():
                table.add_row(name, *(f"{m[k]:.4f}" for k in ("roc_auc", "pr_auc", "log_loss", "ece")))
            console.print(table)
            console.print(
                f"v{report.model_version} {'promoted' if report.promoted else 'kept as challenger'}: {report.reason}"
            )
        scored = score_propensity(settings, scoring_date=date_.date() if date_ else None)
    except TrendcastError as exc:
        raise _fail(exc) from None
    console.print(
        f"scored {scored.rows:,} customers for {scored.scoring_date} (mean probability {scored.mean_probability:.3f}, "
        f"{scored.model_name} v{scored.model_version})"
    )


@app.command()
def segments(
    date_: Annotated[
        datetime | None, typer.Option("--date", formats=ISO_DATE, help="As-of date (YYYY-MM-DD); default: data cutoff.")
    ] = None,
) -> None:
    """Customer segments (K-means on RFM, k by silhouette; DBSCAN compared) into scores.customer_segments."""
    from trendcast.behaviour.segments import run_segments

    try:
        report = run_segments(get_settings(), scoring_date=date_.date() if date_ else None)
    except TrendcastError as exc:
        raise _fail(exc) from None
    table = Table("segment", "customers", title=f"{report.k} segments, silhouette {report.silhouette:.3f}")
    for name, size in report.sizes.items():
        table.add_row(name, f"{size:,}")
    console.print(table)
    console.print(
        f"DBSCAN: {report.dbscan['n_clusters']:.0f} clusters, {report.dbscan['noise_share']:.0%} noise, silhouette "
        f"{report.dbscan['silhouette']:.3f}; wrote {report.rows:,} rows for {report.scoring_date}"
    )


@app.command()
def recommend(
    train_: Annotated[
        bool, typer.Option("--train", help="Evaluate popularity / co-occurrence / SASRec, register, promote first.")
    ] = False,
    family: Annotated[
        list[str] | None, typer.Option("--family", "-f", help="Families to train (cooccurrence, sasrec).")
    ] = None,
    date_: Annotated[
        datetime | None,
        typer.Option("--date", formats=ISO_DATE, help="Scoring date (YYYY-MM-DD); default: data cutoff."),
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k", help="Items per customer.")] = 10,
) -> None:
    """Next-basket recommendations: optional retrain, then the @champion's top-k per customer into
    scores.customer_recommendations."""
    from trendcast.behaviour.fitted_recommender import FAMILIES
    from trendcast.behaviour.recommendation_jobs import score_recommendations, train_recommenders

    settings = get_settings()
    try:
        if train_:
            with console.status("evaluating and training recommenders"):
                report = train_recommenders(settings, families=tuple(family or FAMILIES))
            table = Table("model", "HR@10", "NDCG@10", "version", title=f"leave-last-out, {report.n_users:,} customers")
            for name, m in report.metrics.items():
                table.add_row(name, f"{m['hr@10']:.4f}", f"{m['ndcg@10']:.4f}", report.versions.get(name, "-"))
            console.print(table)
            console.print(f"{'promoted' if report.promoted else 'kept champion'}: {report.reason}")
        written = score_recommendations(settings, scoring_date=date_.date() if date_ else None, k=k)
    except TrendcastError as exc:
        raise _fail(exc) from None
    console.print(f"wrote {written:,} recommendation rows to scores.customer_recommendations")


@app.command()
def embed(
    similar_to: Annotated[
        str | None, typer.Option("--similar-to", help="Also print the items whose text is most like this item's.")
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k", help="Similar items to print.")] = 10,
) -> None:
    """Embed new or changed product descriptions (marts.ml_item_text) and reviews (marts.ml_item_review_text) into
    scores.item_text_embeddings (cached by text hash)."""
    from trendcast.text_embeddings import embed_item_texts, require_item_text, similar_items

    settings = get_settings()
    try:
        if similar_to:  # a typo must not cost embedding every text first
            require_item_text(similar_to, settings)
        with console.status("embedding product texts"):
            result = embed_item_texts(settings)
        console.print(
            f"{result.n_texts:,} texts: {result.n_embedded:,} embedded now, {result.n_cached:,} cached ({result.model})"
        )
        if similar_to:
            frame = similar_items(similar_to, k, settings)
            table = Table("rank", "item", "category", "cosine", title=f"items like {similar_to}")
            for row in frame.itertuples(index=False):
                table.add_row(str(row.rank), row.similar_item_id, str(row.category), f"{row.similarity:.3f}")
            console.print(table)
    except TrendcastError as exc:
        raise _fail(exc) from None


app.command("promote")(promote_command)

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


def _print_stored_leaderboard(settings: Settings) -> None:
    """The latest training run's leaderboard as stored in ``ops.model_leaderboard`` (what the dashboard shows)."""
    from trendcast.dashboard import queries
    from trendcast.warehouse import connect

    with connect(settings) as conn:
        rows = queries.leaderboard(conn, queries.available_tables(conn))
    if rows:
        timed = [{**r, "fit_s": r["fit_s"] or 0.0, "predict_s": r["predict_s"] or 0.0} for r in rows]
        _print_leaderboard(timed, [rows[0]["cutoffs"]])


def _print_counts(counts: list) -> None:
    table = Table("schema", "table", "rows", title="warehouse")
    for c in counts:
        table.add_row(c.schema_name, c.table, f"{c.rows:,}")
    console.print(table)


if __name__ == "__main__":
    app()
