"""Row rules: type and check one chunk of a file; good rows come back typed, bad rows with a reason.

Vectorised over Arrow-backed strings (RE2 regexes run in C++), so a 10-million-line file validates in
chunks without Python loops over rows. Each bad row keeps only its first failing check (in column order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from trendcast.ingestion.cells import (
    STRING,
    Checks,
    FileState,
    full_match,
    is_blank,
    show_value,
    to_arrow,
    to_text,
)
from trendcast.ingestion.dates import check_date

__all__ = ["FileState", "ChunkResult", "validate_chunk", "SOURCE_TEXT_COLUMNS"]

MAX_ABS_QUANTITY = 1_000_000
MAX_PRICE = 100_000.0
EVENT_TYPES = ("view", "cart", "fav", "purchase", "search")
TEXT_KINDS = ("description", "review")
SOURCE_TEXT_COLUMNS = (
    "invoice",
    "stock_code",
    "description",
    "quantity",
    "invoice_date",
    "price",
    "customer_id",
    "country",
)

_INVOICE_RE = r"[CA]?\d{6,7}"
_INT_RE = r"\s*[+-]?\d+(?:\.0*)?\s*"
_FLOAT_RE = r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*"
_CUSTOMER_RE = r"\s*\d+(?:\.0*)?\s*"
# Dashboards and alert e-mails render these strings: markup must never reach them.
_HTML_RE = r"<[A-Za-z!/?]|javascript:"


@dataclass
class ChunkResult:
    """Good rows typed as the raw table wants them; bad rows as source text plus reason and column."""

    good: pd.DataFrame
    bad: pd.DataFrame = field(default_factory=pd.DataFrame)


def _check_text(
    checks: Checks,
    raw: pd.Series,
    column: str,
    *,
    required: bool,
    max_len: int,
    html: bool,
    allow_newlines: bool = False,
) -> pd.Series:
    text = to_text(raw)
    blank = is_blank(text)
    if required:
        checks.add(column, blank, "a non-empty value")
    control = r"[\x00-\x08\x0b\x0c\x0e-\x1f]" if allow_newlines else r"[\x00-\x1f]"
    checks.add(
        column,
        text.str.contains(control, regex=True).fillna(False),
        "text without control characters (\\x00-\\x1f)",
    )
    checks.add(column, (text.str.len() > max_len).fillna(False), f"text of at most {max_len} characters")
    if html:
        checks.add(
            column,
            text.str.contains(_HTML_RE, regex=True, case=False).fillna(False),
            "plain text without HTML markup ('<tag', '</', '<!', 'javascript:')",
        )
    return text.mask(blank, None) if not required else text


def _check_int(
    checks: Checks,
    raw: pd.Series,
    column: str,
    *,
    low: int,
    high: int,
    required: bool,
    expected: str,
) -> pd.Series:
    """Integer column (nullable Int64 result); floats must be integral, text must look like one."""
    if pd.api.types.is_integer_dtype(raw.dtype):
        values = raw.astype("Int64")
        missing = values.isna().to_numpy()
    elif pd.api.types.is_float_dtype(raw.dtype):
        floats = raw.astype("float64").to_numpy()
        missing = np.isnan(floats)
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(floats) & (floats == np.floor(floats))
        checks.add(column, ~missing & ~integral, f"an integer ({expected})")
        values = pd.Series(np.where(integral, floats, np.nan), index=raw.index).astype("Int64")
    else:
        text = to_text(raw)
        missing = is_blank(text).to_numpy()
        good = full_match(text, _INT_RE).to_numpy()
        checks.add(column, ~missing & ~good, f"an integer ({expected})")
        cleaned = pc.if_else(pa.array(good), pc.utf8_trim_whitespace(to_arrow(text)), None)
        floats = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
        values = pd.Series(floats, index=raw.index).astype("Int64")
    if required:
        checks.add(column, missing, f"an integer ({expected})")
    out_of_range = ((values < low) | (values > high)).fillna(False)
    checks.add(column, out_of_range, expected)
    return values


def _check_float(checks: Checks, raw: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        floats = raw.astype("float64").to_numpy()
        missing = np.isnan(floats)
        checks.add(column, missing, "a number")
    else:
        text = to_text(raw)
        good = full_match(text, _FLOAT_RE).to_numpy()
        checks.add(column, ~good, "a number such as 2.55")
        cleaned = pc.if_else(pa.array(good), pc.utf8_trim_whitespace(to_arrow(text)), None)
        floats = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        checks.add(column, np.isinf(floats), "a finite number")
    return pd.Series(floats, index=raw.index)


def _check_customer(checks: Checks, raw: pd.Series, column: str) -> pd.Series:
    """Customer number in its one canonical text form, whatever the source type: the decimal digits
    without leading zeros or a trailing '.0' ('012345', '12345.0' and the float 12345.0 are all '12345');
    empty stays null. Staging hashes this form, so one customer gets one key."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        floats = raw.astype("float64").to_numpy()
        missing = np.isnan(floats)
        with np.errstate(invalid="ignore"):
            good = np.isfinite(floats) & (floats == np.floor(floats)) & (floats >= 0) & (floats < 2**53)
        checks.add(column, ~missing & ~good, "an integer customer number such as 12346, or empty")
        ints = pa.array(np.where(good, floats, 0).astype(np.int64), mask=~good)
        return pd.Series(pc.cast(ints, pa.string()), index=raw.index, dtype=STRING)
    text = to_text(raw)
    missing = is_blank(text).to_numpy()
    good = full_match(text, _CUSTOMER_RE).to_numpy()
    checks.add(column, ~missing & ~good, "an integer customer number such as 12346, or empty")
    cleaned = text.str.strip().str.replace(r"\.0*$", "", regex=True).str.replace(r"^0+(\d)", r"\1", regex=True)
    return cleaned.mask(~good, None)


def _check_enum(checks: Checks, raw: pd.Series, column: str, allowed: tuple[str, ...], required: bool) -> pd.Series:
    text = to_text(raw)
    blank = is_blank(text)
    inside = text.isin(allowed).fillna(False).astype(bool)
    bad = ~inside if required else (~blank & ~inside)
    checks.add(column, bad, "one of " + ", ".join(repr(a) for a in allowed))
    return text.mask(blank, None)


def validate_chunk(state: FileState, chunk: pd.DataFrame) -> ChunkResult:
    """Check and type one chunk; ``chunk`` has raw column names plus ``_source_row`` and ``_pos``."""
    kind = state.header.kind
    index = chunk.index
    checks = Checks(index)
    label = state.header.label
    rows, positions = chunk["_source_row"], chunk["_pos"]
    out: dict[str, pd.Series] = {}
    if kind == "transactions":
        invoice = _check_text(checks, chunk["invoice"], "invoice", required=True, max_len=32, html=False)
        checks.add(
            "invoice",
            ~is_blank(invoice) & ~full_match(invoice, _INVOICE_RE),
            "an invoice number like '489434', 'C489449' or 'A506401' ([CA]? + 6-7 digits)",
        )
        out["invoice"] = invoice
        out["stock_code"] = _check_text(checks, chunk["stock_code"], "stock_code", required=True, max_len=32, html=True)
        out["description"] = _check_text(
            checks, chunk["description"], "description", required=False, max_len=500, html=True
        )
        out["quantity"] = _check_int(
            checks,
            chunk["quantity"],
            "quantity",
            low=-MAX_ABS_QUANTITY,
            high=MAX_ABS_QUANTITY,
            required=True,
            expected="|quantity| <= 1,000,000; huge quantities are rejected",
        )
        out["invoice_date"] = check_date(
            checks,
            chunk["invoice_date"],
            "invoice_date",
            state,
            label("invoice_date"),
            rows,
            positions,
            required=True,
        )
        price = _check_float(checks, chunk["price"], "price")
        adjustment = invoice.str.startswith("A").fillna(False).to_numpy()
        with np.errstate(invalid="ignore"):
            checks.add(
                "price",
                (price.to_numpy() < 0) & ~adjustment,
                "a price >= 0 (negative prices only on 'A' adjustment invoices)",
            )
            checks.add("price", np.abs(price.to_numpy()) > MAX_PRICE, "a price of at most 100,000")
        out["price"] = price
        out["customer_id"] = _check_customer(checks, chunk["customer_id"], "customer_id")
        out["country"] = _check_text(checks, chunk["country"], "country", required=False, max_len=64, html=True)
    elif kind == "events":
        out["customer_id"] = _check_customer(checks, chunk["customer_id"], "customer_id")
        out["session_id"] = _check_text(
            checks, chunk["session_id"], "session_id", required=True, max_len=128, html=True
        )
        out["stock_code"] = _check_text(
            checks, chunk["stock_code"], "stock_code", required=False, max_len=32, html=True
        )
        out["category"] = _check_text(checks, chunk["category"], "category", required=False, max_len=128, html=True)
        out["event_type"] = _check_enum(checks, chunk["event_type"], "event_type", EVENT_TYPES, True)
        out["search_query"] = _check_text(
            checks, chunk["search_query"], "search_query", required=False, max_len=500, html=True
        )
        out["event_time"] = check_date(
            checks,
            chunk["event_time"],
            "event_time",
            state,
            label("event_time"),
            rows,
            positions,
            required=True,
        )
    else:
        out["stock_code"] = _check_text(checks, chunk["stock_code"], "stock_code", required=True, max_len=32, html=True)
        out["kind"] = _check_enum(checks, chunk["kind"], "kind", TEXT_KINDS, True)
        out["text"] = _check_text(
            checks, chunk["text"], "text", required=True, max_len=5000, html=True, allow_newlines=True
        )
        out["category"] = _check_text(
            checks, _optional(chunk, "category"), "category", required=False, max_len=128, html=True
        )
        out["rating"] = _check_int(
            checks,
            _optional(chunk, "rating"),
            "rating",
            low=1,
            high=5,
            required=False,
            expected="a rating from 1 to 5",
        ).astype("Int32")
        out["written_at"] = check_date(
            checks,
            _optional(chunk, "written_at"),
            "written_at",
            state,
            label("written_at"),
            rows,
            positions,
            required=False,
        )
    return _split(chunk, checks, out, kind)


def _optional(chunk: pd.DataFrame, column: str) -> pd.Series:
    if column in chunk:
        return chunk[column]
    return pd.Series([None] * len(chunk), index=chunk.index, dtype=STRING)


def _split(chunk: pd.DataFrame, checks: Checks, out: dict[str, pd.Series], kind: str) -> ChunkResult:
    reason = pd.Series(None, index=chunk.index, dtype=object)
    column = pd.Series(None, index=chunk.index, dtype=object)
    value = pd.Series(None, index=chunk.index, dtype=object)
    for name, mask, expected in checks.items:
        fresh = mask & reason.isna()
        if fresh.any():
            reason[fresh] = expected
            column[fresh] = name
            value[fresh] = chunk[name][fresh].map(show_value) if name in chunk else "(empty)"
    bad = reason.notna().to_numpy()
    good = pd.DataFrame(out, index=chunk.index)[~bad].copy()
    if kind == "transactions":
        good["quantity"] = good["quantity"].astype("int64")
    good["_source_row"] = chunk["_source_row"][~bad].astype("int64")
    bad_frame = pd.DataFrame(index=chunk.index[bad])
    if bad.any():
        for name in SOURCE_TEXT_COLUMNS:
            bad_frame[name] = to_text(chunk[name][bad]) if name in chunk else None
        bad_frame["reason"] = reason[bad]
        bad_frame["column_name"] = column[bad]
        bad_frame["value"] = value[bad]
        bad_frame["_source_row"] = chunk["_source_row"][bad].astype("int64")
        bad_frame["_pos"] = chunk["_pos"][bad]
    return ChunkResult(good=good, bad=bad_frame)
