"""Next-basket recommendations: purchase histories, a temporal leave-last-out split, baselines and metrics.

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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp
import sqlalchemy as sa

from trendcast.exceptions import DataValidationError
from trendcast.settings import Settings, get_settings

__all__ = [
    "TOP_K",
    "PurchaseData",
    "Split",
    "Recommender",
    "PopularityRecommender",
    "CooccurrenceRecommender",
    "PURCHASES_SQL",
    "EVENTS_SQL",
    "EVENTS_TABLE",
    "Browsing",
    "browsing_from_frame",
    "load_browsing",
    "holdout_cutoffs",
    "split_browsing",
    "load_purchases",
    "purchases_from_frame",
    "leave_last_out",
    "rank_metrics",
    "evaluate",
    "top_k_items",
    "tune_cooccurrence",
    "benchmark_recommendations",
]

log = logging.getLogger(__name__)

TOP_K = 10
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
EVENT_WEIGHT = 0.5
#: Popularity-debiasing strengths the tuning tries (0: none); see ``CooccurrenceRecommender``.
DEBIAS_GRID = (0.0, 0.1, 0.2, 0.3)
#: Tuning prefers settings whose most frequent first item tops at most this share of the validation lists.
MAX_TOP1_SHARE = 0.3
# Relative popularity of never-bought items in the debiasing divisor (keeps it finite).
_POPULARITY_FLOOR = 1e-3

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


class Recommender(Protocol):
    """Fitted on training histories; scores every item for each given history (higher = better)."""

    name: str

    def fit(self, histories: Sequence[History], n_items: int) -> Recommender: ...

    def score(self, histories: Sequence[History]) -> np.ndarray: ...


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


# ------------------------------------------------------------------------------------------ recommenders


def _history_matrix(histories: Sequence[History], n_items: int, decay: float = 1.0) -> sp.csr_matrix:
    """Users x items: sum over a user's baskets of ``decay ** age`` (age 0 = latest basket), rows summing to 1."""
    rows, cols, vals = [], [], []
    for u, history in enumerate(histories):
        for age, basket in enumerate(reversed(history)):
            rows.append(np.full(len(basket), u))
            cols.append(basket)
            vals.append(np.full(len(basket), decay**age))
    if not rows:
        return sp.csr_matrix((len(histories), n_items))
    matrix = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(histories), n_items)
    )
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    totals[totals == 0] = 1.0
    return sp.diags(1.0 / totals) @ matrix


def _basket_matrix(histories: Sequence[History], n_items: int) -> sp.csr_matrix:
    """Baskets x items, binary."""
    baskets = [b for h in histories for b in h if len(b)]
    if not baskets:
        return sp.csr_matrix((0, n_items))
    rows = np.repeat(np.arange(len(baskets)), [len(b) for b in baskets])
    cols = np.concatenate(baskets)
    matrix = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(baskets), n_items))
    matrix.data[:] = 1.0  # an item listed twice in a basket counts once
    return matrix


def _keep_top(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Each row's ``n`` largest entries (bounds the model's size: ~n x items floats instead of items squared)."""
    rows, cols, vals = [], [], []
    for r in range(matrix.shape[0]):
        start, end = matrix.indptr[r], matrix.indptr[r + 1]
        data, index = matrix.data[start:end], matrix.indices[start:end]
        if len(data) > n:
            keep = np.argpartition(-data, n - 1)[:n]
            data, index = data[keep], index[keep]
        rows.append(np.full(len(data), r))
        cols.append(index)
        vals.append(data)
    if not rows:
        return matrix
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=matrix.shape, dtype=np.float32
    )


class PopularityRecommender:
    """The same ranking for everyone: items by the number of training baskets they are in."""

    name = "popularity"

    def __init__(self) -> None:
        self.counts: np.ndarray | None = None

    def fit(self, histories: Sequence[History], n_items: int) -> PopularityRecommender:
        self.counts = np.asarray(_basket_matrix(histories, n_items).sum(axis=0)).ravel()
        return self

    def score(self, histories: Sequence[History]) -> np.ndarray:
        if self.counts is None:
            raise RuntimeError("fit the recommender first")
        return np.tile(self.counts.astype(np.float32), (len(histories), 1))


class CooccurrenceRecommender:
    """Item-item co-occurrence in baskets (cosine-normalised) applied to a recency-weighted purchase profile.

    ``score = profile @ S + repeat * profile + tiny * popularity`` where ``profile`` weights a customer's baskets
    by ``decay ** age``, ``S_ij = C_ij / (n_i ** (1 - alpha) * n_j ** alpha + shrink)`` (``C`` = baskets holding
    both, diagonal removed, ``n`` = baskets holding one; ``alpha`` 0.5 is cosine, higher values damp popular
    candidates) and ``repeat`` rewards re-buying the customer's own items; popularity only breaks ties.
    ``debias`` divides every score by ``popularity ** debias`` (popularity relative to the best-seller), so the
    global best-seller, which co-occurs with nearly everything, stops topping almost every list.
    With a clickstream, co-viewed sessions add ``event_weight`` x their co-occurrence to ``C`` and ``n`` and the
    customer's recent browsing profile joins ``profile`` with weight ``event_weight``.
    """

    name = "cooccurrence"

    def __init__(
        self,
        decay: float = 0.8,
        repeat: float = 1.0,
        shrink: float = 5.0,
        alpha: float = 0.5,
        neighbours: int = 200,
        event_weight: float = 0.0,
        debias: float = 0.0,
    ) -> None:
        self.decay, self.repeat, self.shrink, self.alpha = decay, repeat, shrink, alpha
        self.neighbours, self.event_weight, self.debias = neighbours, event_weight, debias
        self.similarity: sp.csr_matrix | None = None
        self.popularity: np.ndarray | None = None

    def params(self) -> dict[str, float]:
        return {
            "decay": self.decay,
            "repeat": self.repeat,
            "shrink": self.shrink,
            "alpha": self.alpha,
            "neighbours": self.neighbours,
            "event_weight": self.event_weight,
            "debias": self.debias,
        }

    def fit(
        self, histories: Sequence[History], n_items: int, sessions: sp.csr_matrix | None = None
    ) -> CooccurrenceRecommender:
        """``sessions``: sessions x items of co-viewed items (``Browsing.sessions``), used when event_weight > 0."""
        baskets = _basket_matrix(histories, n_items).tocsc()
        counts = np.asarray(baskets.sum(axis=0)).ravel()
        co = (baskets.T @ baskets).tocsr()
        if sessions is not None and self.event_weight > 0:
            co = co + self.event_weight * (sessions.T @ sessions).tocsr()
            counts = counts + self.event_weight * np.asarray(sessions.sum(axis=0)).ravel()
        co.setdiag(0.0)
        co.eliminate_zeros()
        co = co.tocoo()
        # Cosine-like with a shrinkage term: pairs seen in a handful of baskets count less.
        norm = counts[co.row] ** (1 - self.alpha) * counts[co.col] ** self.alpha + self.shrink
        similarity = sp.csr_matrix((co.data / norm, (co.row, co.col)), shape=(n_items, n_items), dtype=np.float32)
        self.similarity = _keep_top(similarity, self.neighbours)
        self.popularity = (counts / max(counts.max(), 1.0)).astype(np.float32)
        return self

    def score(self, histories: Sequence[History], browsing: sp.csr_matrix | None = None) -> np.ndarray:
        """``browsing``: rows x items browsing profiles of the same customers (``Browsing.profiles``)."""
        if self.similarity is None or self.popularity is None:
            raise RuntimeError("fit the recommender first")
        profile = _history_matrix(histories, self.similarity.shape[0], self.decay)
        if browsing is not None and self.event_weight > 0:
            profile = (profile + self.event_weight * browsing).tocsr()
        scores = np.asarray((profile @ self.similarity).todense(), dtype=np.float32)
        scores += self.repeat * np.asarray(profile.todense(), dtype=np.float32)
        scores += 1e-6 * self.popularity
        debias = getattr(self, "debias", 0.0)  # models pickled before the parameter existed
        if debias:
            scores /= (self.popularity + _POPULARITY_FLOOR) ** debias
        return scores


# ------------------------------------------------------------------------------------------------ metrics


def top_k_items(scores: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Indices of the k best items per row, best first (ties broken by item index)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, kth=k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1)


def rank_metrics(top: np.ndarray, targets: Sequence[Basket], k: int = TOP_K) -> dict[str, float]:
    """HR@k and NDCG@k (binary relevance, every target item relevant) of top-k lists against target baskets, and
    ``top1_share``: the share of lists whose first item is the most frequent first item (1 = same for all)."""
    if len(top) != len(targets):
        raise ValueError(f"{len(top)} ranked lists for {len(targets)} targets")
    if not len(targets):
        return {f"hr@{k}": float("nan"), f"ndcg@{k}": float("nan"), "top1_share": float("nan")}
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    hits, ndcgs = np.zeros(len(targets)), np.zeros(len(targets))
    for u, (ranked, target) in enumerate(zip(top[:, :k], targets, strict=True)):
        relevant = np.isin(ranked, target)
        hits[u] = relevant.any()
        ideal = discounts[: min(len(np.unique(target)), k)].sum()
        ndcgs[u] = (discounts[: len(ranked)] * relevant).sum() / ideal if ideal else 0.0
    top1_share = np.unique(top[:, 0], return_counts=True)[1].max() / len(top)
    return {f"hr@{k}": float(hits.mean()), f"ndcg@{k}": float(ndcgs.mean()), "top1_share": float(top1_share)}


def evaluate(
    model: Recommender,
    inputs: Sequence[History],
    targets: Sequence[Basket],
    k: int = TOP_K,
    *,
    exclude_seen: bool = False,
    batch_size: int = 1024,
    browsing: sp.csr_matrix | None = None,
) -> dict[str, float]:
    """Full-ranking HR@k / NDCG@k of a fitted recommender (scored in batches of users; ``browsing``: the users'
    browsing profiles, for models that read them)."""
    tops = []
    for start in range(0, len(inputs), batch_size):
        chunk = list(inputs[start : start + batch_size])
        if browsing is None:
            scores = model.score(chunk)
        else:
            scores = model.score(chunk, browsing[start : start + len(chunk)])
        if exclude_seen:
            for u, history in enumerate(chunk):
                if history:
                    scores[u, np.concatenate(history)] = -np.inf
        tops.append(top_k_items(scores, k))
    top = np.concatenate(tops) if tops else np.zeros((0, k), dtype=np.int64)
    return rank_metrics(top, targets, k)


def tune_cooccurrence(
    train_histories: Sequence[History],
    n_items: int,
    grid: Sequence[dict[str, float]] | None = None,
    k: int = TOP_K,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Pick decay / repeat / shrink / debias on the validation split (second-to-last baskets): the best NDCG@k
    among settings whose lists are diverse (``top1_share`` <= :data:`MAX_TOP1_SHARE`), else the best overall."""
    valid = leave_last_out(train_histories)
    grid = grid or [
        {"decay": d, "repeat": r, "shrink": 5.0, "debias": b}
        for d in (0.5, 0.8)
        for r in (0.5, 2.0, 5.0)
        for b in DEBIAS_GRID
    ]
    trials = []
    for params in grid:
        model = CooccurrenceRecommender(**params).fit(valid.train_histories, n_items)
        trials.append({**params, **evaluate(model, valid.inputs, valid.targets, k)})
    diverse = [t for t in trials if t["top1_share"] <= MAX_TOP1_SHARE]
    best = max(diverse or trials, key=lambda t: t[f"ndcg@{k}"])
    keys = ("decay", "repeat", "shrink", "alpha", "neighbours", "debias")
    return {key: best[key] for key in keys if key in best}, trials


# ---------------------------------------------------------------------------------------------- benchmark


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - start, 1)


def benchmark_recommendations(
    settings: Settings | None = None,
    *,
    data: PurchaseData | None = None,
    sasrec: bool = True,
    sasrec_config: Any = None,
    k: int = TOP_K,
    browsing: Browsing | None = None,
) -> dict[str, Any]:
    """Popularity, co-occurrence and SASRec on one leave-last-out split of the warehouse's purchases (with
    ``browsing`` also ``cooccurrence_events``: the tuned co-occurrence reading the clickstream).

    Returns ``{"popularity": {"hr@10", "ndcg@10", "seconds"}, "cooccurrence": {...}, "sasrec": {...},
    "n_users", "n_items", "n_train_customers", "protocol"}``; co-occurrence's parameters are tuned on the
    validation split, SASRec early-stops on it.
    """
    settings = settings or get_settings()
    data = data or load_purchases(settings)
    split = leave_last_out(data.histories, data.customers)
    n_items = data.n_items
    results: dict[str, Any] = {}

    pop, seconds = _timed(lambda: PopularityRecommender().fit(split.train_histories, n_items))
    results["popularity"] = {**evaluate(pop, split.inputs, split.targets, k), "seconds": seconds}

    (best, trials), tune_s = _timed(lambda: tune_cooccurrence(split.train_histories, n_items, k=k))
    co, seconds = _timed(lambda: CooccurrenceRecommender(**best).fit(split.train_histories, n_items))
    results["cooccurrence"] = {
        **evaluate(co, split.inputs, split.targets, k),
        "params": best,
        "seconds": round(seconds + tune_s, 1),
        "tuning": trials,
    }
    if browsing is not None:
        profiles, sessions = split_browsing(browsing, data)
        with_events = {**best, "event_weight": EVENT_WEIGHT}
        co, seconds = _timed(
            lambda: CooccurrenceRecommender(**with_events).fit(split.train_histories, n_items, sessions)
        )
        results["cooccurrence_events"] = {
            **evaluate(co, split.inputs, split.targets, k, browsing=profiles),
            "params": with_events,
            "seconds": seconds,
        }
    if sasrec:
        from trendcast.behaviour.sasrec import SASRecConfig, SASRecRecommender

        config = sasrec_config or SASRecConfig()
        model = SASRecRecommender(config)
        _, seconds = _timed(lambda: model.fit(split.train_histories, n_items))
        results["sasrec"] = {
            **evaluate(model, split.inputs, split.targets, k),
            "params": config.model_dump(),
            "seconds": seconds,
            "epochs": model.epochs_trained,
            "best_valid_ndcg": model.best_valid_ndcg,
            "device": model.device,
        }
    for name in ("popularity", "cooccurrence", "cooccurrence_events", "sasrec"):
        if name in results:
            log.info("%s: HR@%d %.4f NDCG@%d %.4f", name, k, results[name][f"hr@{k}"], k, results[name][f"ndcg@{k}"])
    results.update(
        {
            "n_users": split.n_users,
            "n_items": n_items,
            "n_customers": data.n_customers,
            "n_train_baskets": int(sum(len(h) for h in split.train_histories)),
            "k": k,
            "protocol": (
                "temporal leave-last-out per customer: last sale basket (invoice) of customers with >= 2 baskets "
                "is the target, earlier baskets the input; full ranking over all items, previously bought items "
                "not excluded; HR@10 = any item of the last basket in the top 10, NDCG@10 binary relevance over "
                "the basket's items; co-occurrence tuned and SASRec early-stopped on the second-to-last baskets"
            ),
        }
    )
    return results
