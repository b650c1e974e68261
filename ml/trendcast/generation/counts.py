"""Reference (pandas) implementation of the CONTRACTS.md cleaning rules, for one file ingested alone.

``expected_counts(frame)`` gives the numbers dbt staging/intermediate must reproduce. ``CountAccumulator``
does the same over a file streamed in chunks; it is exact as long as no invoice spans two chunks (rows of one
invoice share their timestamp, so the generator's day chunks satisfy this): duplicates are then chunk-local.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SOURCE_COLUMNS",
    "PRODUCT_CODE_PATTERN",
    "EXPECTED_KEYS",
    "flag_rows",
    "CountAccumulator",
    "expected_counts",
]

SOURCE_COLUMNS = (
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
)
PRODUCT_CODE_PATTERN = r"^[0-9]{5}[A-Za-z]{0,2}$"
EXPECTED_KEYS = (
    "raw_rows",
    "duplicate_rows",
    "cancellation_rows",
    "return_rows",
    "stock_adjustment_rows",
    "non_product_rows",
    "zero_price_rows",
    "negative_price_rows",
    "missing_customer_rows",
    "sale_lines",
    "items_with_sales",
    "item_days_zero_filled",
    "units_sold_total",
    "units_returned_total",
    "revenue_net_total",
    "customers_with_sales",
    # extras, same rules
    "overlap_duplicate_rows",
    "adjustment_rows",
    "dirty_rows",
    "invoices",
    "guest_invoices",
    "sale_invoices",
    "revenue_sold_total",
    "revenue_returned_total",
    "first_sale_date",
    "cutoff_date",
)


def _prefix_flags(values: pd.Series, *prefixes: str) -> tuple[np.ndarray, ...]:
    """startswith() per prefix, evaluated once per distinct value (invoices repeat ~15 times)."""
    codes, uniques = pd.factorize(values.astype(str))
    uniq = pd.Series(uniques, dtype=object)
    return tuple(uniq.str.startswith(p).to_numpy()[codes] for p in prefixes) + (codes,)


def _exact_duplicates(frame: pd.DataFrame, invoice_codes: np.ndarray, stock_codes: np.ndarray) -> np.ndarray:
    """Later copies of rows identical on all source columns (only rows sharing invoice and code can be)."""
    pair = invoice_codes.astype(np.int64) * (int(stock_codes.max(initial=0)) + 1) + stock_codes
    candidate = pd.Series(pair).duplicated(keep=False).to_numpy()
    out = np.zeros(len(frame), dtype=bool)
    if candidate.any():
        out[candidate] = frame.loc[candidate, list(SOURCE_COLUMNS)].duplicated(keep="first").to_numpy()
    return out


def flag_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Boolean flags per row (one batch, so no overlap duplicates), plus ``item_id`` and ``sale_date``."""
    canc, adj, invoice_codes = _prefix_flags(frame["Invoice"], "C", "A")
    codes, uniques = pd.factorize(frame["StockCode"].astype(str))
    uniq = pd.Series(uniques, dtype=object)
    product = uniq.str.match(PRODUCT_CODE_PATTERN).to_numpy(dtype=bool)[codes]
    item_id = uniq.str.strip().str.upper().to_numpy()[codes]
    qty = frame["Quantity"].to_numpy()
    price = frame["Price"].to_numpy()
    dup = _exact_duplicates(frame, invoice_codes, codes)
    flags = pd.DataFrame(
        {
            "is_duplicate": dup,
            "is_cancellation": canc,
            "is_adjustment": adj,
            "is_non_product": ~product,
            "is_stock_adjustment": (qty < 0) & ~canc,
            "is_zero_price": price == 0,
            "is_negative_price": price < 0,
            "is_missing_customer": frame["Customer ID"].isna().to_numpy(),
        },
        index=frame.index,
    )
    flags["is_sale"] = ~dup & ~canc & ~adj & product & (qty > 0) & (price > 0)
    flags["is_return"] = ~dup & canc & product & (qty < 0) & (price > 0)
    flags["item_id"] = item_id
    flags["invoice_code"] = invoice_codes
    flags["sale_date"] = frame["InvoiceDate"].to_numpy().astype("datetime64[D]")
    return flags


class CountAccumulator:
    """Adds up the expected counts chunk by chunk; ``result()`` returns the final dict."""

    def __init__(self) -> None:
        # a Counter: every count starts at 0 without repeating the key list of EXPECTED_KEYS
        self.sums: Counter[str] = Counter()
        self.first_sale: dict[str, np.datetime64] = {}
        self.last_customer_sale: dict[int, np.datetime64] = {}
        self.cutoff: np.datetime64 | None = None

    def add(self, frame: pd.DataFrame) -> None:
        f = flag_rows(frame)
        kept = ~f["is_duplicate"]  # every per-kind count is over non-duplicate rows
        s = self.sums
        s["raw_rows"] += len(frame)
        s["duplicate_rows"] += int(f["is_duplicate"].sum())
        for name, col in (
            ("cancellation_rows", "is_cancellation"),
            ("return_rows", "is_return"),
            ("stock_adjustment_rows", "is_stock_adjustment"),
            ("non_product_rows", "is_non_product"),
            ("zero_price_rows", "is_zero_price"),
            ("negative_price_rows", "is_negative_price"),
            ("missing_customer_rows", "is_missing_customer"),
            ("sale_lines", "is_sale"),
            ("adjustment_rows", "is_adjustment"),
        ):
            s[name] += int((f[col] & kept).sum())
        dirty = f[
            [
                "is_duplicate",
                "is_cancellation",
                "is_adjustment",
                "is_non_product",
                "is_stock_adjustment",
                "is_zero_price",
                "is_negative_price",
            ]
        ].any(axis=1)
        s["dirty_rows"] += int(dirty.sum())
        invoice = f["invoice_code"].to_numpy()
        sale = f["is_sale"].to_numpy()
        ret = f["is_return"].to_numpy()
        s["invoices"] += int(np.unique(invoice).size)
        s["guest_invoices"] += int(np.unique(invoice[f["is_missing_customer"].to_numpy()]).size)
        s["sale_invoices"] += int(np.unique(invoice[sale]).size)
        qty = frame["Quantity"].to_numpy()
        cents = np.round(frame["Price"].to_numpy() * 100).astype(np.int64)
        s["units_sold_total"] += int(qty[sale].sum())
        s["units_returned_total"] += int(-qty[ret].sum())
        s["revenue_sold_cents"] += int((qty[sale] * cents[sale]).sum())
        s["revenue_returned_cents"] += int(-(qty[ret] * cents[ret]).sum())
        if sale.any():
            dates = f["sale_date"].to_numpy().astype("datetime64[D]")[sale]
            first = pd.Series(dates).groupby(f["item_id"].to_numpy()[sale]).min()
            for item, d in zip(first.index, first.to_numpy().astype("datetime64[D]"), strict=True):
                if item not in self.first_sale or d < self.first_sale[item]:
                    self.first_sale[item] = d
            cust = frame["Customer ID"].to_numpy()[sale]
            has = ~np.isnan(cust)
            last = pd.Series(dates[has]).groupby(cust[has].astype(np.int64)).max()
            for c, d in zip(last.index, last.to_numpy().astype("datetime64[D]"), strict=True):
                if c not in self.last_customer_sale or d > self.last_customer_sale[c]:
                    self.last_customer_sale[c] = d
            top = dates.max()
            self.cutoff = top if self.cutoff is None or top > self.cutoff else self.cutoff

    def result(self) -> dict[str, Any]:
        s = dict(self.sums)
        sold, returned = s.pop("revenue_sold_cents"), s.pop("revenue_returned_cents")
        s["revenue_sold_total"] = round(sold / 100, 2)
        s["revenue_returned_total"] = round(returned / 100, 2)
        s["revenue_net_total"] = round((sold - returned) / 100, 2)
        s["items_with_sales"] = len(self.first_sale)
        s["customers_with_sales"] = len(self.last_customer_sale)
        s["overlap_duplicate_rows"] = 0
        if self.cutoff is not None:
            firsts = np.array(list(self.first_sale.values()), dtype="datetime64[D]")
            s["item_days_zero_filled"] = int((self.cutoff - firsts).astype(np.int64).sum() + firsts.size)
            s["first_sale_date"] = str(firsts.min())
            s["cutoff_date"] = str(np.datetime64(self.cutoff, "D"))
        else:
            s["item_days_zero_filled"] = 0
            s["first_sale_date"] = s["cutoff_date"] = None
        return {k: s[k] for k in EXPECTED_KEYS}

    def customers_active_since(self, since: np.datetime64) -> list[int]:
        """Customers whose last sale date is on or after ``since``."""
        return sorted(int(c) for c, d in self.last_customer_sale.items() if d >= since)


def expected_counts(frame: pd.DataFrame) -> dict[str, Any]:
    """The CONTRACTS.md counts for ``frame`` (a transactions file ingested alone into an empty warehouse).

    Flag counts (``cancellation_rows`` ...) are over rows that are not exact duplicates; ``duplicate_rows``
    counts the later copies; ``dirty_rows`` = rows with any flag except missing customer.
    """
    acc = CountAccumulator()
    acc.add(frame)
    return acc.result()
