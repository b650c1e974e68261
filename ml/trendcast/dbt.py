"""Run dbt in-process (dbtRunner) against the configured warehouse, with the environment Settings exports."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from trendcast.exceptions import DbtError
from trendcast.settings import DBT_PROJECT_DIR, Settings, get_settings
from trendcast.snapshot import publish_snapshot

__all__ = ["DbtRunResult", "run_dbt", "build", "parse", "generate_docs", "target_path"]

log = logging.getLogger(__name__)

# Statuses dbt uses for a node that did not succeed (run results use "error", tests "fail").
_FAILED_STATUSES = {"error", "fail", "runtime error"}
# dbt commands that run no SQL: the salt table need not be published first.
_OFFLINE_COMMANDS = {"parse", "ls", "list", "deps", "clean", "debug", "init"}
# Flags run_dbt adds unless the caller passes them itself.
_PATH_FLAGS = ("--project-dir", "--profiles-dir", "--target-path", "--log-path")


class DbtRunResult(BaseModel):
    """Outcome of one dbt command."""

    success: bool
    invocation_id: str | None
    elapsed_s: float
    failures: list[str]
    n_nodes: int


def target_path(settings: Settings) -> Path:
    """dbt's target folder for these settings: under the state dir, so parallel checkouts never clash.

    ``dbt parse`` run by hand inside ``dbt_project/`` still writes ``dbt_project/target/manifest.json``
    (gitignored), the file Cosmos' manifest load mode reads.
    """
    return settings.state_path / "dbt_target"


@contextmanager
def _temporary_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, restoring previous values after."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _node_label(result: Any) -> str:
    node = getattr(result, "node", None)
    if node is None:
        return "<unknown node>"
    return str(getattr(node, "unique_id", None) or getattr(node, "name", "<unknown node>"))


def _collect(results: Any) -> tuple[list[str], int]:
    """Failed nodes (``unique_id: message``) and the number of nodes in a dbt result object."""
    node_results = getattr(results, "results", None)
    if node_results is None:
        return [], 0
    failures = []
    for node_result in node_results:
        status = str(getattr(node_result, "status", "")).lower()
        if status in _FAILED_STATUSES:
            message = getattr(node_result, "message", None) or status
            if getattr(node_result, "max_loaded_at", None) is not None:  # source freshness result
                message = f"stale source: last load {node_result.max_loaded_at}, {node_result.age:.0f} s ago"
            failures.append(f"{_node_label(node_result)}: {message}")
    return failures, len(node_results)


def _invocation_id() -> str | None:
    try:
        from dbt_common.invocation import get_invocation_id

        return get_invocation_id()
    except Exception:  # dbt internals moved before; the id is informative only
        return None


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a command.

    dbt-duckdb caches one read-write connection per process (a class attribute). Left open, any later
    ``duckdb.connect`` of the same file in this process fails ("different configuration") and other
    processes cannot take the file lock, so it is closed after every command.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing to release
        return
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None:
        try:
            env.close()
        except Exception:  # closing is best effort; the next dbt call reopens anyway
            log.debug("closing the dbt-duckdb environment failed", exc_info=True)


def run_dbt(args: Sequence[str], settings: Settings | None = None) -> DbtRunResult:
    """Run one dbt command (e.g. ``["build", "--select", "staging"]``) in this process.

    The environment from ``settings.dbt_env()`` is set only while dbt runs; project, profiles, target
    and log paths are added unless ``args`` already name them. Commands that run SQL first publish the
    pseudonymisation salt to the table the staging models read it from.
    """
    from dbt.cli.main import dbtRunner

    from trendcast.pseudonymisation import publish_salt

    settings = settings or get_settings()
    if args and args[0] not in _OFFLINE_COMMANDS:
        publish_salt(settings)
    state_target = target_path(settings)
    defaults = {
        "--project-dir": str(DBT_PROJECT_DIR),
        "--profiles-dir": str(DBT_PROJECT_DIR),
        "--target-path": str(state_target),
        "--log-path": str(settings.state_path / "logs" / "dbt"),
    }
    full_args = list(args)
    for flag in _PATH_FLAGS:
        if not any(a == flag or a.startswith(flag + "=") for a in full_args):
            full_args += [flag, defaults[flag]]

    log.info("dbt %s (target %s)", " ".join(args), settings.warehouse)
    started = time.perf_counter()
    with _temporary_env(settings.dbt_env()):
        try:
            outcome = dbtRunner().invoke(full_args)
        finally:
            _release_duckdb()
            publish_snapshot(settings)  # what dbt wrote, for the readers (trendcast.snapshot)
    elapsed = time.perf_counter() - started

    if args and args[0] not in _OFFLINE_COMMANDS:
        from trendcast.dbt_builds import record_builds

        record_builds(Path(full_args[full_args.index("--target-path") + 1]) / "run_results.json", settings)
    failures, n_nodes = _collect(outcome.result)
    if outcome.exception is not None:
        failures.append(f"dbt: {type(outcome.exception).__name__}: {outcome.exception}")
    result = DbtRunResult(
        success=bool(outcome.success),
        invocation_id=_invocation_id(),
        elapsed_s=round(elapsed, 3),
        failures=failures,
        n_nodes=n_nodes,
    )
    log.info(
        "dbt %s: success=%s nodes=%s failures=%s in %.1f s",
        args[0] if args else "",
        result.success,
        result.n_nodes,
        len(result.failures),
        result.elapsed_s,
    )
    return result


def _raise_on_failure(command: str, result: DbtRunResult) -> DbtRunResult:
    if not result.success:
        details = "\n".join(f"  - {f}" for f in result.failures) or "  (no node failed; see the dbt log)"
        raise DbtError(f"dbt {command} failed ({len(result.failures)} failure(s)):\n{details}")
    return result


def build(settings: Settings | None = None, select: str | None = None, *, quiet: bool = False) -> DbtRunResult:
    """``dbt build`` (seeds, models, snapshots, data and unit tests), optionally for a selection.

    Raises:
        DbtError: listing each failed node with its message.
    """
    from trendcast.outputs import ensure_output_tables

    settings = settings or get_settings()
    ensure_output_tables(settings)  # consumer marts read the write-back tables as sources
    args = ["build", "--quiet"] if quiet else ["build"]
    if select:
        args += ["--select", select]
    return _raise_on_failure("build", run_dbt(args, settings))


def generate_docs(settings: Settings | None = None) -> Path:
    """``dbt docs generate``: the docs site (models, columns, tests, exposures, lineage) with the warehouse's
    catalog, in the target folder; returns the folder holding ``index.html``.

    Raises:
        DbtError: when dbt cannot compile the project or read the warehouse catalog.
    """
    settings = settings or get_settings()
    _raise_on_failure("docs generate", run_dbt(["docs", "generate"], settings))
    return target_path(settings)


def parse(settings: Settings | None = None, target_dir: Path | None = None) -> Path:
    """``dbt parse``; returns the path of the manifest.json it wrote (default: ``dbt_project/target``).

    Raises:
        DbtError: when the project does not parse.
    """
    out_dir = target_dir or DBT_PROJECT_DIR / "target"
    _raise_on_failure("parse", run_dbt(["parse", "--target-path", str(out_dir)], settings))
    return out_dir / "manifest.json"
