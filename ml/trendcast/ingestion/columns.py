"""File kinds and their columns: header names (with the UCI variants) mapped to raw-table columns."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from trendcast.exceptions import IngestError

__all__ = ["KINDS", "KindSpec", "HeaderMap", "normalise_name", "resolve_header", "signature_kind"]


def normalise_name(name: object) -> str:
    """Matching key of a header cell: case, spaces and underscores do not matter."""
    return re.sub(r"[\s_]+", "", str(name if name is not None else "")).lower()


@dataclass(frozen=True)
class KindSpec:
    """One file kind: raw column -> accepted header keys, and which columns must be present."""

    kind: str
    aliases: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    display: dict[str, str]  # raw column -> the canonical header name used in messages

    def lookup(self) -> dict[str, str]:
        return {key: column for column, keys in self.aliases.items() for key in keys}


KINDS: dict[str, KindSpec] = {
    "transactions": KindSpec(
        kind="transactions",
        aliases={
            "invoice": ("invoice", "invoiceno"),
            "stock_code": ("stockcode",),
            "description": ("description",),
            "quantity": ("quantity",),
            "invoice_date": ("invoicedate",),
            "price": ("price", "unitprice"),
            "customer_id": ("customerid",),
            "country": ("country",),
        },
        required=(
            "invoice",
            "stock_code",
            "description",
            "quantity",
            "invoice_date",
            "price",
            "customer_id",
            "country",
        ),
        display={
            "invoice": "Invoice",
            "stock_code": "StockCode",
            "description": "Description",
            "quantity": "Quantity",
            "invoice_date": "InvoiceDate",
            "price": "Price",
            "customer_id": "Customer ID",
            "country": "Country",
        },
    ),
    "events": KindSpec(
        kind="events",
        aliases={
            "customer_id": ("customerid",),
            "session_id": ("sessionid",),
            "stock_code": ("stockcode",),
            "category": ("category",),
            "event_type": ("eventtype",),
            "search_query": ("searchquery",),
            "event_time": ("eventtime",),
        },
        required=(
            "customer_id",
            "session_id",
            "stock_code",
            "category",
            "event_type",
            "search_query",
            "event_time",
        ),
        display={
            c: c
            for c in (
                "customer_id",
                "session_id",
                "stock_code",
                "category",
                "event_type",
                "search_query",
                "event_time",
            )
        },
    ),
    "product_text": KindSpec(
        kind="product_text",
        aliases={
            "stock_code": ("stockcode",),
            "kind": ("kind",),
            "text": ("text",),
            "category": ("category",),
            "rating": ("rating",),
            "written_at": ("writtenat",),
        },
        required=("stock_code", "kind", "text"),
        display={c: c for c in ("stock_code", "kind", "text", "category", "rating", "written_at")},
    ),
}

# Columns that tell the kinds apart when a header is incomplete.
_SIGNATURE = {"transactions": "invoice", "events": "event_type", "product_text": "text"}


@dataclass(frozen=True)
class HeaderMap:
    """How one file's header maps onto a kind: raw column -> (position, header name as found)."""

    kind: str
    columns: dict[str, tuple[int, str]]
    ignored: tuple[str, ...]

    @property
    def spec(self) -> KindSpec:
        return KINDS[self.kind]

    def label(self, column: str) -> str:
        """The column's name as the file spells it (for messages)."""
        return self.columns[column][1] if column in self.columns else self.spec.display.get(column, column)


def signature_kind(names: Sequence[object]) -> str | None:
    """The kind whose telling column (Invoice, event_type, text) the header names, if any."""
    keys = {normalise_name(n) for n in names}
    for kind, column in _SIGNATURE.items():
        if keys & set(KINDS[kind].aliases[column]):
            return kind
    return None


def _fmt(names: Sequence[object]) -> str:
    return ", ".join(repr(str(n)) for n in names)


def resolve_header(names: Sequence[object], file: str, where: str = "header row") -> HeaderMap:
    """Detect the file kind from its header and map its columns; raise IngestError naming what is wrong."""
    shown = [str(n) if n is not None else "" for n in names]
    seen: dict[str, int] = {}
    for pos, name in enumerate(shown):
        if name in seen:
            raise IngestError(
                f"{file}: {where}: duplicate column name {name!r} "
                f"(column {seen[name] + 1} and column {pos + 1}); "
                f"each column must appear once. Found columns: {_fmt(shown)}"
            )
        seen[name] = pos

    best: tuple[int, int, int] | None = None
    chosen = "transactions"
    candidates: dict[str, dict[str, tuple[int, str]]] = {}
    conflicts: dict[str, tuple[str, str, str]] = {}
    for kind, spec in KINDS.items():
        lookup = spec.lookup()
        mapped: dict[str, tuple[int, str]] = {}
        for pos, name in enumerate(shown):
            column = lookup.get(normalise_name(name))
            if column is None:
                continue
            if column in mapped:
                conflicts.setdefault(kind, (mapped[column][1], name, spec.display[column]))
                continue
            mapped[column] = (pos, name)
        candidates[kind] = mapped
        present = sum(c in mapped for c in spec.required)
        score = (int(_SIGNATURE[kind] in mapped), present, -list(KINDS).index(kind))
        if best is None or score > best:
            best, chosen = score, kind
    if chosen in conflicts:
        first, second, meaning = conflicts[chosen]
        raise IngestError(
            f"{file}: {where}: duplicate columns {first!r} and {second!r} both mean column {meaning!r}; "
            f"keep one. Found columns: {_fmt(shown)}"
        )
    spec = KINDS[chosen]
    mapped = candidates[chosen]
    missing = [c for c in spec.required if c not in mapped]
    ignored = tuple(n for pos, n in enumerate(shown) if pos not in {p for p, _ in mapped.values()})
    if missing:
        hint = f"; unrecognised columns: {_fmt(ignored)}" if ignored else ""
        raise IngestError(
            f"{file}: {where}: missing required column(s) {_fmt([spec.display[c] for c in missing])} "
            f"for a {chosen} file; found columns: {_fmt(shown)}{hint}"
        )
    return HeaderMap(kind=chosen, columns=mapped, ignored=ignored)
