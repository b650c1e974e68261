"""Timestamps: stored as naive shop time; text dates must use ONE format per file.

Time-zone-aware values (typed tz columns, ISO text ending in 'Z' or '+09:00') are converted to the
shop time zone (``TRENDCAST_SHOP_TIMEZONE``); naive ones are taken as shop time already.

Formats: ISO 'YYYY-MM-DD HH:MM[:SS][Z|+HH:MM]', or slash dates whose day/month order is settled on the file's
first dated rows (a part > 12 decides; otherwise unpadded '12/1/2010 8:26' means the UCI M/D/YYYY
export and padded '01/12/2009 07:45' the DD/MM/YYYY one). A row in another format rejects the file.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from trendcast.exceptions import IngestError
from trendcast.ingestion.cells import Checks, FileState, full_match, is_blank, show_value, to_text

__all__ = ["MIN_DATE", "check_date"]

MIN_DATE = datetime(2000, 1, 1)
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})"
_ISO_RE = rf"\s*(\d{{4}})-(\d{{2}})-(\d{{2}})(?:[ T](\d{{2}}):(\d{{2}})(?::(\d{{2}})(?:\.\d+)?)?{_OFFSET}?)?\s*"
_AWARE_RE = rf".*[ T]\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?{_OFFSET}\s*"
_SLASH_RE = r"\s*(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*"
_FORMAT_NAMES = {
    "iso": "ISO 'YYYY-MM-DD HH:MM[:SS][Z|+HH:MM]'",
    "mdy": "UCI 'M/D/YYYY H:MM'",
    "dmy": "'DD/MM/YYYY HH:MM'",
}


def _components(text: pd.Series, pattern: str) -> pd.DataFrame:
    parts = text.str.extract(f"^{pattern}$")
    return parts.apply(lambda col: pd.to_numeric(col.astype("string"), errors="coerce")).astype("float64")


def _parse_slash(text: pd.Series, order: str) -> pd.Series:
    """Slash dates in the file's day/month order, with or without seconds or time."""
    day_month = "%m/%d/%Y" if order == "mdy" else "%d/%m/%Y"
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for fmt in (f"{day_month} %H:%M", f"{day_month} %H:%M:%S", day_month):
        todo = parsed.isna()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    return parsed


def _parse_iso(text: pd.Series, shop: ZoneInfo) -> pd.Series:
    """ISO text; values with a UTC offset become the same instant's wall time in the shop's zone."""
    aware = full_match(text, _AWARE_RE)
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if (~aware).any():
        parsed[~aware] = pd.to_datetime(text[~aware], format="ISO8601", errors="coerce")
    if aware.any():
        utc = pd.to_datetime(text[aware], format="ISO8601", errors="coerce", utc=True)
        parsed[aware] = utc.dt.tz_convert(shop).dt.tz_localize(None)
    return parsed


def _shop_wall_time(value: datetime, shop: ZoneInfo) -> datetime:
    return value.astimezone(shop).replace(tzinfo=None) if value.tzinfo is not None else value


def check_date(
    checks: Checks,
    raw: pd.Series,
    column: str,
    state: FileState,
    label: str,
    source_rows: pd.Series,
    positions: pd.Series,
    required: bool,
) -> pd.Series:
    """Timestamps: typed columns as they are; text in ONE format per file (ISO or one slash order)."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        aware = getattr(raw.dt, "tz", None) is not None
        stamps = raw.dt.tz_convert(state.shop_timezone).dt.tz_localize(None) if aware else raw
        missing = stamps.isna().to_numpy()
        parsed = stamps
    else:
        is_stamp = (
            np.array([isinstance(v, datetime | pd.Timestamp) for v in raw.tolist()], dtype=bool)
            if raw.dtype == object
            else np.zeros(len(raw), dtype=bool)
        )
        text = to_text(raw.mask(is_stamp, None) if is_stamp.any() else raw)
        missing = is_blank(text).to_numpy() & ~is_stamp
        iso = full_match(text, _ISO_RE).to_numpy()
        slash = full_match(text, _SLASH_RE).to_numpy()
        parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
        if is_stamp.any():
            parsed[is_stamp] = pd.to_datetime([_shop_wall_time(v, state.shop_timezone) for v in raw[is_stamp]])
        _settle_format(state, text, iso, slash, label, source_rows, positions)
        if iso.any():
            parsed[iso] = _parse_iso(text[iso].str.strip(), state.shop_timezone)
        if slash.any():
            parsed[slash] = _parse_slash(text[slash].str.strip(), state.date_format or "dmy")
        expected = f"a date in the file's format {_FORMAT_NAMES.get(state.date_format or 'iso')}"
        checks.add(column, ~missing & ~is_stamp & parsed.isna().to_numpy(), expected)
    if required:
        checks.add(column, missing, "a date (the value is empty)")
    stamps = pd.to_datetime(parsed)
    checks.add(column, (stamps < MIN_DATE).fillna(False), "a date not before 2000-01-01")
    checks.add(
        column,
        (stamps > state.max_date).fillna(False),
        f"a date not later than {state.max_date:%Y-%m-%d %H:%M} (now + max_future_days); no future dates",
    )
    return stamps.astype("datetime64[us]")


def _settle_format(
    state: FileState,
    text: pd.Series,
    iso: np.ndarray,
    slash: np.ndarray,
    label: str,
    source_rows: pd.Series,
    positions: pd.Series,
) -> None:
    """Fix the file's date format on the first dated rows; a row in another format rejects the file."""
    if state.date_format is None and (iso.any() or slash.any()):
        first = int(np.flatnonzero(iso | slash)[0])
        state.date_format_row = int(source_rows.iloc[first])
        if iso[first]:
            state.date_format = "iso"
        else:
            parts = _components(text[slash], _SLASH_RE)
            day_first = bool((parts[0] > 12).any())
            month_first = bool((parts[1] > 12).any())
            if day_first == month_first and not day_first:
                # Unpadded numbers ('12/1/2010 8:26') are the UCI export; padded ones the DD/MM export.
                pieces = text[slash].str.strip().str.split("/")
                unpadded = (pieces.str[0].str.len() == 1) | (pieces.str[1].str.len() == 1)
                day_first = not bool(unpadded.fillna(False).any())
            state.date_format = "dmy" if day_first else "mdy"
    if state.date_format is None:
        return
    other = slash if state.date_format == "iso" else iso
    if other.any():
        pos = int(np.flatnonzero(other)[0])
        theirs = "iso" if iso[pos] else "slash"
        raise IngestError(
            f"{state.file}: {state.where(int(source_rows.iloc[pos]), positions.iloc[pos])}, "
            f"column {label!r}: value {show_value(text.iloc[pos])} uses another date format "
            f"({'ISO' if theirs == 'iso' else 'D/M/Y'}) "
            f"than the file's first date (row {state.date_format_row}: {_FORMAT_NAMES[state.date_format]}); "
            "expected ONE date format per file (mixed date formats)"
        )
