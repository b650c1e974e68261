"""Ingest shop files (csv / parquet / xlsx) into the warehouse's ``raw`` schema; see ``trendcast.ingest``."""

from __future__ import annotations

from trendcast.ingestion.loader import BatchResult, expand_paths, file_batch_id, ingest_file, ingest_paths
from trendcast.ingestion.schema import ensure_raw_schema

__all__ = ["BatchResult", "ingest_paths", "ingest_file", "ensure_raw_schema", "expand_paths", "file_batch_id"]
