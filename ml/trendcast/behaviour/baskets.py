"""Purchase histories for next-basket recommendations: baskets, the temporal leave-last-out split, browsing.

Protocol (used by the benchmark, the tests and the weekly retrain):

* Histories are the known customers' **sale baskets** (one basket = one invoice's distinct items) from
  ``intermediate.int_transactions_cleaned``, in invoice time order. Returns, guests and non-product lines are out.
* **Temporal leave-last-out**: for every customer with >= 2 baskets the *last* basket is the test target and all
  earlier baskets are the input; the same split of the input baskets (second-to-last basket) is the validation
  split used for tuning and early stopping. Customers with one basket only add training data.
* **Full ranking** over every item of the catalogue (no sampled negatives). Items the customer bought before are
  **not** excluded: re-orders are most of this shop's demand (wholesalers re-buy the same lines), so a recommender
  must rank them too.
* **Clickstream** (optional, when ``raw.events`` was ingested): known customers' view / cart events join as a
  browsing profile (events of the ``BROWSING_DAYS`` before the cutoff) and as co-viewed sessions, both weighted
  ``event_weight`` below purchases. A test customer's cutoff is the start of the day of the held-out basket, so no
  event of that day or later is used (the daily scoring sees events up to the end of the scoring date).
* **HR@10**: share of test customers with at least one item of their last basket in the top 10. **NDCG@10**:
  binary-relevance NDCG over the top 10 with every item of the last basket relevant (ideal DCG over
  ``min(|basket|, 10)`` hits).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import sqlalchemy as sa

from trendcast.exceptions import DataValidationError
from trendcast.settings import Settings, get_settings

__all__ = [
    "PURCHASES_SQL",
    "EVENTS_SQL",
    "EVENTS_TABLE",
    "CART_WEIGHT",
    "BROWSING_DAYS",
    "Basket",
    "History",
    "PurchaseData",
    "Split",
    "Browsing",
    "browsing_from_frame",
    "load_browsing",
    "holdout_cutoffs",
    "split_browsing",
    "load_purchases",
    "purchases_from_frame",
    "leave_last_out",
]

log = logging.getLogger(__name__)

#: Sale lines of known customers, one row per (customer, invoice, item).
PURCHASES_SQL = """
select customer_key, invoice_id, min(invoiced_at) as invoiced_at, item_id
from intermediate.int_transactions_cleaned
where is_sale and customer_key is not null and item_id is not null
group by customer_key, invoice_id, item_id
"""

#: Schema and name of the dbt mart of known customers' view / cart events (empty for Online Retail II).
EVENTS_TABLE = ("marts", "ml_customer_item_events")
#: Known customers' view / cart events (the clickstream a recommender reads).
EVENTS_SQL = """
select customer_key, session_id, event_at, item_id, event_type
from marts.ml_customer_item_events
"""
#: A cart event counts this many views in a browsing profile.
CART_WEIGHT = 2.0
#: Days of events before the cutoff that make a customer's browsing profile.
BROWSING_DAYS = 30
#: Weight of browsing (profile and co-viewed sessions) relative to purchases when events exist.

Basket = np.ndarray  # item indices (int64) of one invoice
History = list[Basket]  # a customer's baskets in time order


@dataclass
class PurchaseData:
    """Item vocabulary, customers and each customer's baskets in time order (items as vocabulary indices)."""

    items: np.ndarray
    customers: np.ndarray
    histories: list[History]
    last_purchase_at: pd.Timestamp | None = None
    basket_times: list[np.ndarray] = field(default_factory=list)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_customers(self) -> int:
        return len(self.customers)


@dataclass
class Split:
    """Inputs and targets of one leave-last-out split (test customers only) plus every training basket."""

    customers: np.ndarray
    inputs: list[History]
    targets: list[Basket]
    train_histories: list[History] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return len(self.customers)


# ------------------------------------------------------------------------------------------------ data


def purchases_from_frame(frame: pd.DataFrame) -> PurchaseData:
    """Group ``customer_key, invoice_id, invoiced_at, item_id`` rows into time-ordered baskets per customer."""
    required = {"customer_key", "invoice_id", "invoiced_at", "item_id"}
    missing = required - set(frame.columns)
    if missing:
        raise DataValidationError(f"purchase frame lacks columns {sorted(missing)}")
    if frame.empty:
        raise DataValidationError("no sale lines of known customers to build purchase histories from")
    df = frame[list(required)].copy()
    df["item_id"] = df["item_id"].astype(str)
    df["customer_key"] = df["customer_key"].astype(str)
    df["invoice_id"] = df["invoice_id"].astype(str)
    df["invoiced_at"] = pd.to_datetime(df["invoiced_at"])
    # A basket's time is its first line's; invoice id breaks ties so the order is deterministic.
    df["basket_at"] = df.groupby(["customer_key", "invoice_id"])["invoiced_at"].transform("min")
    df = df.sort_values(["customer_key", "basket_at", "invoice_id", "item_id"], kind="stable")
    items = np.array(sorted(df["item_id"].unique()), dtype=object)
    df["item"] = np.searchsorted(items, df["item_id"].to_numpy()).astype(np.int64)
    customers, histories = [], []
    item_values = df["item"].to_numpy()
    basket_id = df.groupby(["customer_key", "basket_at", "invoice_id"], sort=False).ngroup().to_numpy()
    basket_starts = np.r_[0, np.flatnonzero(np.diff(basket_id)) + 1, len(df)]
    customer_of_basket = df["customer_key"].to_numpy()[basket_starts[:-1]]
    time_of_basket = df["basket_at"].to_numpy()[basket_starts[:-1]]
    times: list[list[np.datetime64]] = []
    current: str | None = None
    for b, customer in enumerate(customer_of_basket):
        if customer != current:
            customers.append(customer)
            histories.append([])
            times.append([])
            current = customer
        histories[-1].append(item_values[basket_starts[b] : basket_starts[b + 1]])
        times[-1].append(time_of_basket[b])
    return PurchaseData(
        items=items,
        customers=np.array(customers, dtype=object),
        histories=histories,
        last_purchase_at=pd.Timestamp(df["invoiced_at"].max()),
        basket_times=[np.array(t, dtype="datetime64[ns]") for t in times],
    )


def load_purchases(settings: Settings | None = None) -> PurchaseData:
    """Purchase histories from the warehouse (after ``trendcast build``)."""
    from trendcast.warehouse import connect

    settings = settings or get_settings()
    with connect(settings) as conn:
        frame = pd.DataFrame(conn.execute(sa.text(PURCHASES_SQL)).mappings().all())
    data = purchases_from_frame(frame)
    log.info("purchase histories: %s customers, %s items, %s lines", data.n_customers, data.n_items, len(frame))
    return data


def leave_last_out(histories: Sequence[History], customers: np.ndarray | None = None) -> Split:
    """Last basket of every customer with >= 2 baskets is the target; earlier baskets are the input."""
    customers = np.arange(len(histories)) if customers is None else customers
    keep = [i for i, h in enumerate(histories) if len(h) >= 2]
    train = [h[:-1] if len(h) >= 2 else h for h in histories]
    return Split(
        customers=np.asarray(customers)[keep],
        inputs=[histories[i][:-1] for i in keep],
        targets=[histories[i][-1] for i in keep],
        train_histories=train,
    )


@dataclass
class Browsing:
    """View / cart events of known customers on a fixed customer and item vocabulary (one entry per event)."""

    customer: np.ndarray  # row in the customer vocabulary
    item: np.ndarray  # index in the item vocabulary
    at: np.ndarray  # datetime64[ns]
    weight: np.ndarray  # 1 per view, CART_WEIGHT per cart
    session: np.ndarray  # session codes

    def __len__(self) -> int:
        return len(self.item)

    def before(self, cutoffs: np.ndarray) -> Browsing:
        """Only events strictly before their customer's cutoff (datetime64 per customer row)."""
        keep = self.at < cutoffs[self.customer]
        return Browsing(*(getattr(self, f)[keep] for f in Browsing.__dataclass_fields__))

    def profiles(self, rows: np.ndarray, cutoffs: np.ndarray, n_items: int, days: int = BROWSING_DAYS) -> sp.csr_matrix:
        """Rows x items: event weights in ``[cutoff - days, cutoff)`` of each row's customer, rows summing to 1."""
        position = pd.Series(np.arange(len(rows)), index=np.asarray(rows))
        row = position.reindex(self.customer).to_numpy()
        known = ~np.isnan(row)
        row_int = row[known].astype(np.int64)
        at, end = self.at[known], np.asarray(cutoffs, dtype="datetime64[ns]")[row_int]
        recent = (at < end) & (at >= end - np.timedelta64(days, "D"))
        matrix = sp.csr_matrix(
            (self.weight[known][recent], (row_int[recent], self.item[known][recent])), shape=(len(rows), n_items)
        )
        totals = np.asarray(matrix.sum(axis=1)).ravel()
        totals[totals == 0] = 1.0
        return sp.diags(1.0 / totals) @ matrix

    def sessions(self, n_items: int) -> sp.csr_matrix:
        """Sessions x items, binary (the co-viewed items of each session)."""
        codes, session = np.unique(self.session, return_inverse=True)
        matrix = sp.csr_matrix((np.ones(len(session)), (session, self.item)), shape=(len(codes), n_items))
        matrix.data[:] = 1.0
        return matrix


def browsing_from_frame(frame: pd.DataFrame, customers: np.ndarray, items: np.ndarray) -> Browsing:
    """Map ``customer_key, session_id, event_at, item_id, event_type`` rows onto the vocabularies (events of
    unknown customers or items are dropped)."""
    customer_pos = pd.Series(np.arange(len(customers)), index=pd.Index(customers).astype(str))
    item_pos = pd.Series(np.arange(len(items)), index=pd.Index(items).astype(str))
    customer = customer_pos.reindex(frame["customer_key"].astype(str)).to_numpy()
    item = item_pos.reindex(frame["item_id"].astype(str)).to_numpy()
    keep = ~np.isnan(customer) & ~np.isnan(item)
    kept = frame[keep]
    return Browsing(
        customer=customer[keep].astype(np.int64),
        item=item[keep].astype(np.int64),
        at=pd.to_datetime(kept["event_at"]).to_numpy(dtype="datetime64[ns]"),
        weight=np.where(kept["event_type"].to_numpy() == "cart", CART_WEIGHT, 1.0),
        session=pd.factorize(kept["session_id"].astype(str))[0],
    )


def load_browsing(settings: Settings, data: PurchaseData) -> Browsing | None:
    """Known customers' view / cart events on ``data``'s vocabularies; None without a clickstream."""
    from trendcast.warehouse import connect, table_exists

    with connect(settings) as conn:
        if not table_exists(conn, *EVENTS_TABLE):
            return None
        frame = pd.DataFrame(conn.execute(sa.text(EVENTS_SQL)).mappings().all())
    if frame.empty:
        return None
    browsing = browsing_from_frame(frame, data.customers, data.items)
    log.info("browsing: %s view / cart events of known customers and items", len(browsing))
    return browsing if len(browsing) else None


def holdout_cutoffs(data: PurchaseData) -> np.ndarray:
    """Per customer, the start of the day of the held-out (last) basket, or no limit with one basket only:
    events before it are what a daily scoring the day before would have seen."""
    never = np.datetime64("2262-01-01", "ns")
    return np.array(
        [t[-1].astype("datetime64[D]").astype("datetime64[ns]") if len(t) >= 2 else never for t in data.basket_times],
        dtype="datetime64[ns]",
    )


def split_browsing(browsing: Browsing, data: PurchaseData) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The leave-last-out test users' browsing profiles and the training sessions, both from events before each
    customer's held-out basket day only (rows in the order of ``leave_last_out``'s customers)."""
    cutoffs = holdout_cutoffs(data)
    rows = np.flatnonzero([len(h) >= 2 for h in data.histories])
    return browsing.profiles(rows, cutoffs[rows], data.n_items), browsing.before(cutoffs).sessions(data.n_items)
