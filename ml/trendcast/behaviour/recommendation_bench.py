"""Benchmark of the recommenders (popularity, co-occurrence, SASRec) on one leave-last-out split."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from trendcast.behaviour.baskets import (
    Browsing,
    PurchaseData,
    leave_last_out,
    load_purchases,
    split_browsing,
)
from trendcast.behaviour.recommendations import (
    EVENT_WEIGHT,
    TOP_K,
    CooccurrenceRecommender,
    PopularityRecommender,
    evaluate,
    tune_cooccurrence,
)
from trendcast.settings import Settings, get_settings

__all__ = [
    "benchmark_recommendations",
]

log = logging.getLogger(__name__)


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
