"""``trendcast ingest``: load shop files into the warehouse's raw schema (validated, atomic, idempotent).

- Formats: csv / parquet / xlsx in the Online Retail II shape (UCI column-name variants accepted), plus the
  generator's events and product_text files; the kind is detected from the columns. A directory means all
  supported files in it, sorted (``manifest.json`` is ignored). A workbook loads every sheet whose header
  has the kind's columns, in workbook order, as one batch; sheets without such a header (notes) are skipped
  with a logged warning, a sheet with a broken header or of another kind rejects the file.
- A file is one batch: ``batch_id`` = sha256 of its bytes; a batch already in ``raw.ingest_batches`` is
  skipped. Rows, quarantine rows and the batch row are written in one transaction.
- A file path delivered again with different content is a correction: the new batch REPLACES the earlier
  batches of that path (their rows deleted and the new ones loaded in the same transaction, logged, and
  recorded in ``ingest_batches.replaced_batch_ids``). Other paths never replace each other.
- Any bad row rejects the file with :class:`~trendcast.exceptions.IngestError` naming file, row, column,
  value and what was expected; ``quarantine=True`` loads the good rows of a transactions file and puts the
  bad ones in ``raw.transactions_quarantine``. File-level problems always reject. A csv field may hold up
  to 1,048,576 characters (longer than its column allows is a row error like any other); a longer field
  (usually an unclosed quote) rejects the file naming row and column.
- Timestamps are stored as naive shop time (zone-aware ones converted to ``settings.shop_timezone``);
  customer ids as digits without leading zeros or '.0'. Spools of dead ingests are removed at the next one.
- ``progress(file_name, rows_validated_so_far)`` is called after each chunk.

Modules: readers, cells, dates, validation, spool, loader, schema.
"""

from __future__ import annotations

from trendcast.ingestion.loader import BatchResult, expand_paths, file_batch_id, ingest_file, ingest_paths
from trendcast.ingestion.schema import ensure_raw_schema

__all__ = ["BatchResult", "ingest_paths", "ingest_file", "ensure_raw_schema", "expand_paths", "file_batch_id"]
