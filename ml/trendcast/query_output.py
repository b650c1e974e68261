"""Query results as csv or json text, and files written so a failed export leaves no half file."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from trendcast.query import QueryResult

__all__ = ["format_result", "write_atomically"]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def format_result(result: QueryResult, fmt: str) -> str:
    """``csv`` (header row, RFC 4180 quoting, empty field for null) or ``json`` (a list of objects)."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(["" if v is None else v for v in row] for row in result.rows)
        return buffer.getvalue()
    if fmt == "json":
        records = [dict(zip(result.columns, map(_json_value, row), strict=True)) for row in result.rows]
        return json.dumps(records, ensure_ascii=False, default=str, indent=1) + "\n"
    raise ValueError(f"unknown format {fmt!r}")


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and swap it in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
