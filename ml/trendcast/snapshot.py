"""The published read-only copy of the DuckDB warehouse that readers (the dashboard, the report) open.

DuckDB lets one process hold a file read-write, and any reader holding the file, even read-only, makes the next
writer fail ("Conflicting lock is held"). So readers never open the live file. After a connection that changed
the warehouse commits, and while it still holds the file (no other process can write it meanwhile), the
warehouse is checkpointed (the WAL folded into the file), copied to a temporary name beside it and swapped onto
``<warehouse stem>.snapshot.duckdb`` with ``os.replace``: atomic, and readers that have the old copy open keep
reading it until they close it. The copy keeps the warehouse file's size and modification time, so "is the
snapshot current?" is two ``stat`` calls and a connection that only read publishes nothing.
PostgreSQL needs no snapshot (MVCC): readers there query the warehouse directly.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from trendcast.settings import Settings

__all__ = ["snapshot_path", "publish_snapshot"]

log = logging.getLogger(__name__)


def snapshot_path(settings: Settings) -> Path:
    """Where the snapshot of the DuckDB warehouse lives: beside the warehouse file."""
    live = settings.duckdb_file
    return live.with_name(f"{live.stem}.snapshot.duckdb")


def _is_current(live: Path, snapshot: Path) -> bool:
    """True when the snapshot is a copy of the live file as it is now (nothing committed since)."""
    wal = live.with_name(live.name + ".wal")
    if wal.exists() and wal.stat().st_size > 0:
        return False
    try:
        copy = snapshot.stat()
    except FileNotFoundError:
        return False
    original = live.stat()
    return (copy.st_size, copy.st_mtime_ns) == (original.st_size, original.st_mtime_ns)


def _copy(con: Any, live: Path, snapshot: Path) -> Path | None:
    """Checkpoint through ``con`` (which holds the file) and swap a fresh copy onto ``snapshot``."""
    import duckdb

    started = time.perf_counter()
    try:
        con.execute("checkpoint")
    except duckdb.Error as exc:  # e.g. another transaction of this process is open: the next write publishes
        log.warning("warehouse snapshot not published (checkpoint failed): %s", str(exc).splitlines()[0])
        return None
    temporary = snapshot.with_name(f".{snapshot.name}.{os.getpid()}.tmp")
    try:
        shutil.copy2(live, temporary)  # copy2 keeps the modification time _is_current compares
        os.replace(temporary, snapshot)
    except OSError as exc:  # a full disk must not fail the step that already committed; readers keep the old copy
        temporary.unlink(missing_ok=True)
        log.warning("warehouse snapshot not published: %s", exc)
        return None
    log.debug(
        "published warehouse snapshot %s (%.1f MB) in %.2f s",
        snapshot,
        snapshot.stat().st_size / 1e6,
        time.perf_counter() - started,
    )
    return snapshot


def publish_snapshot(settings: Settings, connection: Any | None = None) -> Path | None:
    """Publish the DuckDB warehouse's snapshot unless it is current; returns its path when a copy was made.

    Args:
        settings: the warehouse; PostgreSQL (or no warehouse file yet) publishes nothing.
        connection: a DuckDB DB-API connection of this process that holds the file (a writer that just
            committed). Without one the file is opened here, and left alone when another process holds it:
            that writer publishes when it commits.
    """
    if settings.warehouse != "duckdb":
        return None
    live, snapshot = settings.duckdb_file, snapshot_path(settings)
    if not live.exists() or _is_current(live, snapshot):
        return None
    if connection is not None:
        return _copy(connection, live, snapshot)
    import duckdb

    try:
        con = duckdb.connect(str(live))
    except duckdb.Error as exc:
        log.info("warehouse snapshot left to the process holding %s: %s", live, str(exc).splitlines()[0])
        return None
    try:
        return _copy(con, live, snapshot)
    finally:
        con.close()
