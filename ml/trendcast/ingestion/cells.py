"""Cell-level helpers shared by the row rules: text views of any column, masks, the check list."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from trendcast.ingestion.columns import HeaderMap

__all__ = [
    "STRING",
    "FileState",
    "Checks",
    "cell_text",
    "show_value",
    "to_text",
    "to_arrow",
    "is_blank",
    "full_match",
]

STRING = pd.StringDtype("pyarrow")


@dataclass
class FileState:
    """What validation remembers across the chunks of one file (the file's date format)."""

    file: str
    header: HeaderMap
    max_date: datetime
    where: Callable[[int, Any], str]  # (data row, position) -> "row 5 (line 6)"
    shop_timezone: ZoneInfo  # time-zone-aware timestamps are stored as wall time in this zone
    date_format: str | None = None
    date_format_row: int | None = None


def cell_text(value: Any) -> str | None:
    """A source cell as text: None for missing, integral floats without '.0' (Excel/UCI ids)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return str(int(value)) if math.isfinite(value) and float(value).is_integer() else repr(float(value))
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def show_value(value: Any, limit: int = 60) -> str:
    """A value for an error message: escaped (repr) and truncated."""
    text = cell_text(value)
    if text is None:
        return "(empty)"
    if len(text) > limit:
        return repr(text[:limit]) + f"... ({len(text)} chars)"
    return repr(text)


def to_text(raw: pd.Series) -> pd.Series:
    """Any source column as Arrow-backed text (NA for missing)."""
    if isinstance(raw.dtype, pd.StringDtype):
        return raw
    if pd.api.types.is_integer_dtype(raw.dtype) and not raw.hasnans:
        return pd.Series(pc.cast(pa.array(raw.to_numpy()), pa.string()), index=raw.index, dtype=STRING)
    return pd.Series([cell_text(v) for v in raw.tolist()], index=raw.index, dtype=STRING)


def to_arrow(series: pd.Series) -> pa.Array:
    return pa.array(series, from_pandas=True)


def is_blank(text: pd.Series) -> pd.Series:
    return (text.isna() | (text.str.strip() == "")).fillna(True).astype(bool)


def full_match(text: pd.Series, pattern: str) -> pd.Series:
    return text.str.fullmatch(pattern).fillna(False).astype(bool)


class Checks:
    """Collects (column, bad-row mask, what was expected) in rule order."""

    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self.items: list[tuple[str, pd.Series, str]] = []

    def add(self, column: str, mask: pd.Series | np.ndarray, expected: str) -> None:
        mask = pd.Series(np.asarray(mask, dtype=bool), index=self.index)
        if mask.any():
            self.items.append((column, mask, expected))
