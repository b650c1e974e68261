"""Load files into ``raw``: one file = one batch = one transaction, idempotent by the file's sha256.

A file path delivered again with other content replaces its earlier batches (their rows are deleted in the
same transaction that loads the new ones; ``ingest_batches.replaced_batch_ids`` records them).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from trendcast.exceptions import IngestError
from trendcast.ingestion.cells import FileState
from trendcast.ingestion.readers import SUPPORTED_SUFFIXES, SourceFile, open_source
from trendcast.ingestion.schema import (
    BATCHES_TABLE,
    QUARANTINE_TABLE,
    RAW_SCHEMA,
    TABLE_FOR_KIND,
    ensure_raw_schema,
)
from trendcast.ingestion.spool import Spool, remove_stale_spools
from trendcast.ingestion.validation import validate_chunk
from trendcast.settings import Settings, get_settings
from trendcast.warehouse import append_frame, connect

__all__ = ["BatchResult", "ingest_paths", "ingest_file", "expand_paths", "file_batch_id"]

log = logging.getLogger(__name__)

# Rows per chunk: bounds memory (a 250k-row chunk is tens of MB) while keeping bulk appends large.
_IGNORED_NAMES = {"manifest.json"}

Progress = Callable[[str, int], None]


class BatchResult(BaseModel):
    """What happened to one file."""

    batch_id: str
    kind: str
    source_file: str
    rows_loaded: int
    rows_quarantined: int
    skipped: bool  # already loaded earlier: nothing written
    replaced_batch_ids: list[str] = []  # earlier deliveries of the same path whose rows this batch replaced


def file_batch_id(path: Path) -> str:
    """The batch id: sha256 of the file's bytes (same content = same batch, whatever the name)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files to ingest: a directory means its supported files, sorted; the generator's manifest is skipped."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            skipped = sorted(p.name for p in path.iterdir() if p.is_file() and p not in found)
            if skipped:
                log.info("ignoring %s in %s (manifest or unsupported type)", ", ".join(skipped), path)
            if not found:
                raise IngestError(f"{path}: no csv, parquet or xlsx files in this directory")
            files.extend(found)
        elif path.name in _IGNORED_NAMES:
            log.info("ignoring %s", path)
        elif not path.exists():
            raise IngestError(f"{path}: no such file or directory")
        else:
            files.append(path)
    return files


def ingest_paths(
    paths: Sequence[Path],
    *,
    settings: Settings | None = None,
    quarantine: bool = False,
    progress: Progress | None = None,
) -> list[BatchResult]:
    """Ingest files (or directories of files) in order, each in its own transaction.

    A rejected file raises IngestError; files before it stay loaded, files after it are not read.
    """
    settings = settings or get_settings()
    files = expand_paths(paths)
    remove_stale_spools(settings.state_path / "tmp")
    return [ingest_file(path, settings=settings, quarantine=quarantine, progress=progress) for path in files]


def _loaded_batch(conn: Connection, batch_id: str) -> str | None:
    query = sa.text(f"select kind from {RAW_SCHEMA}.{BATCHES_TABLE} where batch_id = :batch_id")
    return conn.execute(query, {"batch_id": batch_id}).scalar_one_or_none()


def _replace_earlier(conn: Connection, source_file: str, name: str) -> list[str]:
    """Delete the rows of earlier batches from the same file path (a corrected re-delivery); return their ids."""
    query = sa.text(
        f"select batch_id, kind, row_count from {RAW_SCHEMA}.{BATCHES_TABLE} "
        "where source_file = :source_file order by loaded_at"
    )
    earlier = conn.execute(query, {"source_file": source_file}).all()
    for batch_id, kind, rows in earlier:
        for table in (TABLE_FOR_KIND[kind], QUARANTINE_TABLE):
            conn.execute(sa.text(f"delete from {RAW_SCHEMA}.{table} where _batch_id = :id"), {"id": batch_id})
        conn.execute(sa.text(f"delete from {RAW_SCHEMA}.{BATCHES_TABLE} where batch_id = :id"), {"id": batch_id})
        log.warning(
            "%s: changed content under the same path: replacing batch %s (%d %s rows)", name, batch_id[:12], rows, kind
        )
    return [batch_id for batch_id, _, _ in earlier]


class _Failures:
    """Bad rows seen so far: the first one in full, the rest counted by column."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.first: pd.Series | None = None
        self.count = 0
        self.by_column: Counter[str] = Counter()

    def add(self, bad: pd.DataFrame) -> None:
        if bad.empty:
            return
        if self.first is None:
            self.first = bad.iloc[0]
        self.count += len(bad)
        for column, n in bad["column_name"].value_counts().items():
            self.by_column[self.source.header.label(str(column))] += int(n)

    def message(self, note: str = "") -> str:
        assert self.first is not None
        first = self.first
        label = self.source.header.label(first["column_name"])
        pos = None if pd.isna(first["_pos"]) else int(first["_pos"])
        others = self.count - 1
        counts = ", ".join(f"{name}: {n}" for name, n in self.by_column.most_common())
        return (
            f"{self.source.name}: rejected, nothing was written. "
            f"{self.source.where(int(first['_source_row']), pos)}, "
            f"column {label!r}: value {first['value']} — expected {first['reason']}. "
            f"{others} other row(s) failed validation (failures by column: {counts}).{note}"
        )


def ingest_file(
    path: Path,
    *,
    settings: Settings | None = None,
    quarantine: bool = False,
    progress: Progress | None = None,
) -> BatchResult:
    """Validate and load one file as one batch, all or nothing.

    Phase 1 streams the file chunk by chunk through validation into a local spool (bounded memory,
    warehouse untouched). Phase 2 copies the spool, the quarantine rows and the ``ingest_batches`` row
    in ONE transaction, so readers never see half a batch.
    """
    settings = settings or get_settings()
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    source_file = str(path.resolve())
    batch_id = file_batch_id(path)
    skipped = BatchResult(
        batch_id=batch_id, kind="", source_file=source_file, rows_loaded=0, rows_quarantined=0, skipped=True
    )
    with connect(settings) as conn:
        ensure_raw_schema(conn)
        kind = _loaded_batch(conn, batch_id)
    if kind is not None:
        log.info("%s: batch %s already loaded, skipped", path.name, batch_id[:12])
        return skipped.model_copy(update={"kind": kind})

    source = open_source(path)
    table = TABLE_FOR_KIND[source.kind]
    if source.header.ignored:
        log.warning("%s: ignoring unrecognised column(s) %s", source.name, ", ".join(source.header.ignored))
    chunk_rows = settings.ingest_chunk_rows
    with Spool(settings.state_path / "tmp", chunk_rows) as spool:
        _validate_into(
            spool,
            source,
            table,
            settings=settings,
            quarantine=quarantine,
            chunk_rows=chunk_rows,
            progress=progress,
        )
        loaded_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        lineage = {"_batch_id": batch_id, "_source_file": source_file, "_loaded_at": loaded_at}
        with connect(settings) as conn:
            _bound_duckdb_memory(conn, settings)
            if _loaded_batch(conn, batch_id) is not None:  # loaded by someone else meanwhile
                return skipped.model_copy(update={"kind": source.kind})
            replaced = _replace_earlier(conn, source_file, source.name)
            loaded = spool.copy_into(conn, table, lineage)
            quarantined = spool.copy_into(conn, QUARANTINE_TABLE, lineage)
            batch = pd.DataFrame(
                [
                    {
                        "batch_id": batch_id,
                        "kind": source.kind,
                        "source_file": source_file,
                        "row_count": loaded,
                        "quarantined_count": quarantined,
                        "loaded_at": pd.Timestamp(loaded_at),
                        "replaced_batch_ids": ",".join(replaced) or None,
                    }
                ]
            )
            append_frame(conn, RAW_SCHEMA, BATCHES_TABLE, batch)
    log.info(
        "%s: batch %s loaded %d %s rows, quarantined %d",
        source.name,
        batch_id[:12],
        loaded,
        source.kind,
        quarantined,
    )
    return BatchResult(
        batch_id=batch_id,
        kind=source.kind,
        source_file=source_file,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        skipped=False,
        replaced_batch_ids=replaced,
    )


def _bound_duckdb_memory(conn: Connection, settings: Settings) -> None:
    """Cap DuckDB's buffer pool for the copy (default 80 % of RAM would let one ingest take it all)."""
    if conn.dialect.name != "duckdb":
        return
    limit = settings.ingest_duckdb_memory_limit
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limit):
        raise IngestError(f"ingest_duckdb_memory_limit {limit!r}: expected a size such as '1GB' or '512MiB'")
    conn.execute(sa.text(f"set memory_limit = '{limit}'"))  # validated above; SET takes no bound parameters


def _validate_into(
    spool: Spool,
    source: SourceFile,
    table: str,
    *,
    settings: Settings,
    quarantine: bool,
    chunk_rows: int,
    progress: Progress | None,
) -> None:
    """Validate every chunk and spool good rows (bad ones too when quarantining); raise if rejected."""
    can_quarantine = quarantine and source.kind == "transactions"
    state = FileState(
        file=source.name,
        header=source.header,
        max_date=datetime.now(settings.shop_timezone).replace(tzinfo=None) + timedelta(days=settings.max_future_days),
        where=source.where,
        shop_timezone=settings.shop_timezone,
    )
    failures = _Failures(source)
    seen = 0
    for chunk in source.chunks(chunk_rows):
        result = validate_chunk(state, chunk)
        seen += len(chunk)
        failures.add(result.bad)
        if progress is not None:
            progress(source.name, seen)
        if failures.count and not can_quarantine:
            continue  # keep validating to count every bad row, but spool nothing more
        spool.add(table, result.good)
        spool.add(QUARANTINE_TABLE, result.bad)
    if failures.count and not can_quarantine:
        note = " Use quarantine (--quarantine) to load the good rows and keep the bad ones aside."
        if quarantine:
            note = f" Quarantine applies to transactions files only; this is a {source.kind} file."
        raise IngestError(failures.message(note))
