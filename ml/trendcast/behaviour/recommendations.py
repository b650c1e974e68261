"""Next-basket recommenders (popularity, item-item co-occurrence), their ranking metrics and tuning.

The evaluation protocol (leave-last-out, full ranking, HR@10 / NDCG@10) is described in
:mod:`trendcast.behaviour.baskets`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from trendcast.behaviour.baskets import Basket, History, leave_last_out

__all__ = [
    "TOP_K",
    "EVENT_WEIGHT",
    "DEBIAS_GRID",
    "MAX_TOP1_SHARE",
    "Recommender",
    "PopularityRecommender",
    "CooccurrenceRecommender",
    "rank_metrics",
    "evaluate",
    "top_k_items",
    "tune_cooccurrence",
]

log = logging.getLogger(__name__)

TOP_K = 10
EVENT_WEIGHT = 0.5
#: Popularity-debiasing strengths the tuning tries (0: none); see ``CooccurrenceRecommender``.
DEBIAS_GRID = (0.0, 0.1, 0.2, 0.3)
#: Tuning prefers settings whose most frequent first item tops at most this share of the validation lists.
MAX_TOP1_SHARE = 0.3
# Relative popularity of never-bought items in the debiasing divisor (keeps it finite).
_POPULARITY_FLOOR = 1e-3


class Recommender(Protocol):
    """Fitted on training histories; scores every item for each given history (higher = better)."""

    name: str

    def fit(self, histories: Sequence[History], n_items: int) -> Recommender: ...

    def score(self, histories: Sequence[History]) -> np.ndarray: ...


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
