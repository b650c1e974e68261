"""A fitted recommender with its item vocabulary (what MLflow stores, what the daily scoring ranks with),
fitting one family, and the digest that makes two evaluation splits comparable."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trendcast.behaviour.baskets import (
    Split,
    browsing_from_frame,
    purchases_from_frame,
)
from trendcast.behaviour.recommendations import (
    EVENT_WEIGHT,
    TOP_K,
    CooccurrenceRecommender,
    PopularityRecommender,
    top_k_items,
    tune_cooccurrence,
)

__all__ = ["FAMILIES", "FittedRecommender", "fit_family", "split_signature"]

FAMILIES = ("cooccurrence", "sasrec")


@dataclass
class FittedRecommender:
    """A fitted recommender with its item vocabulary: what MLflow stores and the daily scoring loads."""

    family: str
    items: np.ndarray
    model: Any
    params: dict[str, Any] = field(default_factory=dict)

    def recommend(
        self,
        purchases: pd.DataFrame,
        k: int = TOP_K,
        batch_size: int = 1024,
        *,
        events: pd.DataFrame | None = None,
        until: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Top-k items per customer of a purchases frame (``customer_key, invoice_id, invoiced_at, item_id``).

        Items unknown to the model are left out of the histories; customers keep their place (a customer whose
        items are all new gets the model's answer for an empty history). ``events`` (``EVENTS_SQL``'s columns)
        add each customer's browsing of the days before ``until`` (exclusive; default: just after the last event)
        for models that read it.
        """
        data = purchases_from_frame(purchases)
        profiles = None
        if events is not None and not events.empty and getattr(self.model, "event_weight", 0) > 0:
            last = pd.to_datetime(events["event_at"]).max() + pd.Timedelta(microseconds=1)
            end = pd.Timestamp(until) if until is not None else last
            browsing = browsing_from_frame(events, data.customers, self.items)
            rows = np.arange(data.n_customers)
            cutoffs = np.full(len(rows), np.datetime64(end, "ns"))
            profiles = browsing.profiles(rows, cutoffs, len(self.items))
        lookup = pd.Series(np.arange(len(self.items)), index=self.items)
        mapped = lookup.reindex(data.items).to_numpy()
        histories = []
        for history in data.histories:
            baskets = [mapped[b] for b in history]
            histories.append([b[~np.isnan(b)].astype(np.int64) for b in baskets])
        frames = []
        for start in range(0, len(histories), batch_size):
            chunk = histories[start : start + batch_size]
            if profiles is None:
                scores = self.model.score(chunk)
            else:
                scores = self.model.score(chunk, profiles[start : start + len(chunk)])
            top = top_k_items(scores, k)
            frames.append(
                pd.DataFrame(
                    {
                        "customer_key": np.repeat(data.customers[start : start + len(chunk)], top.shape[1]),
                        "rank": np.tile(np.arange(1, top.shape[1] + 1, dtype=np.int32), len(chunk)),
                        "item_id": self.items[top.ravel()],
                        "score": np.take_along_axis(scores, top, axis=1).ravel().astype(float),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)


def split_signature(split: Split, items: np.ndarray) -> str:
    """A digest of the evaluation split (customers, targets, vocabulary): equal digests = comparable metrics."""
    digest = hashlib.sha256()
    digest.update("|".join(map(str, items)).encode())
    for customer, target in zip(split.customers, split.targets, strict=True):
        digest.update(str(customer).encode())
        digest.update(np.sort(target).tobytes())
    return digest.hexdigest()[:16]


def fit_family(
    family: str,
    histories: Sequence[Any],
    n_items: int,
    *,
    params: dict[str, Any] | None = None,
    sasrec_config: Any = None,
    sessions: Any = None,
) -> Any:
    """A fitted recommender of one family (co-occurrence parameters tuned on the histories' own last baskets;
    with co-viewed ``sessions`` it also reads the clickstream, weighted ``EVENT_WEIGHT`` unless ``params`` say)."""
    if family == "popularity":
        return PopularityRecommender().fit(histories, n_items)
    if family == "cooccurrence":
        if params is None:
            params, _ = tune_cooccurrence(histories, n_items)
            params["event_weight"] = EVENT_WEIGHT if sessions is not None else 0.0
        return CooccurrenceRecommender(**params).fit(histories, n_items, sessions)
    if family == "sasrec":
        from trendcast.behaviour.sasrec import SASRecConfig, SASRecRecommender

        return SASRecRecommender(sasrec_config or SASRecConfig()).fit(histories, n_items)
    raise ValueError(f"unknown recommender family {family!r}; known: popularity, {', '.join(FAMILIES)}")
