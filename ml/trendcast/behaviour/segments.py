"""Customer segments: K-means on log / standard-scaled RFM, k chosen by silhouette, DBSCAN as a comparison.

Criterion: k in 2..8 with the highest silhouette on the scaled features (ties -> smaller k). Customers are
sorted by key before fitting and K-means runs with a fixed seed and ``n_init``, so reruns on the same data give
the same assignment; clusters are numbered by descending median monetary value (segment 0 = most valuable) and
named from their profiles (value tier x activity: "high-value frequent", "lapsed", ...). DBSCAN on the same
scaled features (eps from the k-distance curve) is logged beside it for comparison. ``run_segments`` logs to
MLflow (``trendcast-customer-segments``, every accepted fit becomes ``@champion``) and writes
``scores.customer_segments`` for the as-of date.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from trendcast.behaviour.customer_features import customer_features, data_cutoff, load_customer_activity
from trendcast.exceptions import DataValidationError
from trendcast.settings import Settings, get_settings

__all__ = [
    "TARGET",
    "SEGMENT_FEATURES",
    "SegmentParams",
    "SegmentResult",
    "SegmentReport",
    "segment_matrix",
    "fit_segments",
    "name_segments",
    "run_segments",
]

log = logging.getLogger(__name__)

TARGET = "customer_segments"
#: Scaled inputs: log1p of recency, frequency and net monetary value (clipped at 0).
SEGMENT_FEATURES = ["recency_days", "frequency", "monetary"]


class SegmentParams(BaseModel):
    model_config = ConfigDict(frozen=True)

    k_min: int = Field(2, ge=2)
    k_max: int = Field(8, ge=2)
    n_init: int = Field(10, description="K-means restarts (best inertia kept).")
    random_state: int = 0
    silhouette_sample: int = Field(5_000, description="Customers the silhouette is computed on (seeded sample).")
    dbscan_min_samples: int = Field(20, description="DBSCAN core-point neighbourhood size.")
    dbscan_eps_quantile: float = Field(0.9, description="eps = this quantile of the min_samples-NN distances.")


class SegmentResult(BaseModel):
    """A fitted segmentation: assignments plus everything worth logging."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    k: int
    silhouette: float
    silhouette_by_k: dict[int, float]
    names: dict[int, str]
    sizes: dict[str, int]
    profiles: list[dict[str, Any]]
    dbscan: dict[str, float]
    assignments: Any = Field(description="DataFrame customer_key, segment_id, segment_name + RFM columns.")
    model: Any = Field(description="Fitted sklearn Pipeline (log1p -> StandardScaler -> KMeans).")


class SegmentReport(BaseModel):
    scoring_date: dt.date
    rows: int
    k: int
    silhouette: float
    sizes: dict[str, int]
    dbscan: dict[str, float]
    model_name: str
    model_version: str
    mlflow_run_id: str


def _log_rfm(x: Any) -> np.ndarray:
    return np.log1p(np.clip(np.asarray(x, dtype=float), 0, None))


def segment_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The RFM columns in customer_key order (the K-means input before scaling)."""
    ordered = features.sort_values("customer_key").reset_index(drop=True)
    return ordered[["customer_key", *SEGMENT_FEATURES]]


def _pipeline(k: int, params: SegmentParams) -> Any:
    from sklearn.cluster import KMeans
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return Pipeline(
        [
            ("log1p", FunctionTransformer(_log_rfm)),
            ("scale", StandardScaler()),
            ("kmeans", KMeans(n_clusters=k, n_init=params.n_init, random_state=params.random_state)),
        ]
    )


def _dbscan(scaled: np.ndarray, params: SegmentParams, sample: np.ndarray) -> dict[str, float]:
    from sklearn.cluster import DBSCAN
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import NearestNeighbors

    points = scaled[sample]
    distances, _ = NearestNeighbors(n_neighbors=params.dbscan_min_samples).fit(points).kneighbors(points)
    eps = float(np.quantile(distances[:, -1], params.dbscan_eps_quantile))
    labels = DBSCAN(eps=eps, min_samples=params.dbscan_min_samples).fit_predict(points)
    clustered = labels >= 0
    n_clusters = len(set(labels[clustered]))
    silhouette = (
        float(silhouette_score(points[clustered], labels[clustered]))
        if n_clusters >= 2 and clustered.sum() > n_clusters
        else float("nan")
    )
    return {
        "eps": eps,
        "n_clusters": float(n_clusters),
        "noise_share": float(1 - clustered.mean()),
        "silhouette": silhouette,
    }


def name_segments(profiles: pd.DataFrame, overall_recency: float) -> dict[int, str]:
    """Readable names from cluster medians (index segment_id; columns recency_days, frequency, monetary).

    Activity: "lapsed" when the cluster's median recency exceeds max(90 days, 2x the median recency of all
    customers), else "frequent" / "regular" / "occasional" by median orders (>= 10, >= 3, fewer). Value:
    "high-value" for the top third of clusters by median monetary, "low-value" for the bottom third. Lapsed
    clusters outside the top tier are just "lapsed". Duplicates get a numeric suffix.
    """
    value_rank = profiles["monetary"].rank(method="first", ascending=False)
    n = len(profiles)
    names: dict[int, str] = {}
    for segment_id, row in profiles.iterrows():
        if row["recency_days"] > max(90.0, 2 * overall_recency):
            activity = "lapsed"
        elif row["frequency"] >= 10:
            activity = "frequent"
        elif row["frequency"] >= 3:
            activity = "regular"
        else:
            activity = "occasional"
        rank = value_rank[segment_id]
        value = "high-value" if rank <= max(1, n // 3) else "low-value" if rank > n - max(1, n // 3) else "mid-value"
        names[int(segment_id)] = f"{value} {activity}" if activity != "lapsed" or value == "high-value" else "lapsed"
    seen: dict[str, int] = {}
    for segment_id in sorted(names):
        name = names[segment_id]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[segment_id] = f"{name} {seen[name]}"
    return names


def fit_segments(features: pd.DataFrame, params: SegmentParams | None = None) -> SegmentResult:
    """Choose k by silhouette, fit K-means, number clusters by value, name them and run DBSCAN beside it."""
    from sklearn.metrics import silhouette_score

    params = params or SegmentParams()
    matrix = segment_matrix(features)
    if len(matrix) < 3 * params.k_max:
        raise DataValidationError(f"segmentation needs at least {3 * params.k_max} customers, got {len(matrix)}")
    x = matrix[SEGMENT_FEATURES]
    rng = np.random.default_rng(params.random_state)
    sample = np.sort(rng.choice(len(x), size=min(len(x), params.silhouette_sample), replace=False))
    scores: dict[int, float] = {}
    fitted: dict[int, Any] = {}
    for k in range(params.k_min, params.k_max + 1):
        pipe = _pipeline(k, params).fit(x)
        scaled = pipe[:-1].transform(x)
        scores[k] = float(silhouette_score(scaled[sample], pipe[-1].labels_[sample]))
        fitted[k] = pipe
    best = max(scores, key=lambda k: (round(scores[k], 6), -k))
    pipe = fitted[best]
    raw_labels = pipe[-1].labels_
    medians = matrix.assign(label=raw_labels).groupby("label")[SEGMENT_FEATURES].median()
    # Stable numbering: by descending median monetary, then frequency, then ascending recency.
    order = medians.sort_values(["monetary", "frequency", "recency_days"], ascending=[False, False, True]).index
    relabel = {int(old): new for new, old in enumerate(order)}
    segment_id = np.array([relabel[int(v)] for v in raw_labels], dtype="int32")
    profiles = matrix.assign(segment_id=segment_id).groupby("segment_id")[SEGMENT_FEATURES].median()
    names = name_segments(profiles, float(matrix["recency_days"].median()))
    assignments = matrix.assign(segment_id=segment_id, segment_name=[names[s] for s in segment_id])
    sizes = assignments["segment_name"].value_counts().to_dict()
    profile_rows = [
        {
            "segment_id": int(s),
            "segment_name": names[int(s)],
            "customers": int((segment_id == s).sum()),
            **row.to_dict(),
        }
        for s, row in profiles.iterrows()
    ]
    dbscan = _dbscan(pipe[:-1].transform(x), params, sample)
    log.info("segments: k=%s silhouette %.3f sizes %s; DBSCAN %s", best, scores[best], sizes, dbscan)
    return SegmentResult(
        k=best,
        silhouette=scores[best],
        silhouette_by_k=scores,
        names=names,
        sizes={str(k): int(v) for k, v in sizes.items()},
        profiles=profile_rows,
        dbscan=dbscan,
        assignments=assignments,
        model=pipe,
    )


def run_segments(
    settings: Settings | None = None,
    params: SegmentParams | None = None,
    *,
    scoring_date: dt.date | None = None,
    activity: pd.DataFrame | None = None,
) -> SegmentReport:
    """Fit segments on customers as of ``scoring_date`` (default: data cutoff), log them to MLflow (registered
    and made ``@champion``) and write ``scores.customer_segments`` for that date in one transaction."""
    from trendcast.behaviour import tracking
    from trendcast.behaviour.scores import SEGMENTS_TABLE, write_scores

    settings = settings or get_settings()
    params = params or SegmentParams()
    activity = load_customer_activity(settings, as_of=scoring_date) if activity is None else activity
    day = scoring_date or data_cutoff(activity)
    result = fit_segments(customer_features(activity, day), params)
    metrics = {
        "silhouette": result.silhouette,
        "k": float(result.k),
        **{f"silhouette_k{k}": v for k, v in result.silhouette_by_k.items()},
        **{f"dbscan_{k}": v for k, v in result.dbscan.items()},
    }
    x = result.assignments[SEGMENT_FEATURES]
    info = tracking.log_and_register(
        TARGET,
        result.model,
        params={**params.model_dump(), "scoring_date": day.isoformat(), "n_customers": len(x)},
        metrics=metrics,
        example=x.head(5),
        output_example=result.model.predict(x.head(5)),
        tags={"family": "kmeans", "as_of": day.isoformat()},
        settings=settings,
        artifacts={"segments.json": {"names": result.names, "sizes": result.sizes, "profiles": result.profiles}},
    )
    tracking.set_alias(TARGET, info.version, tracking.CHAMPION, settings, {"segment_names": json.dumps(result.names)})
    rows = result.assignments.copy()
    rows["n_segments"] = result.k
    rows["recency_days"] = rows["recency_days"].astype("int32")
    rows["model_name"], rows["model_version"], rows["mlflow_run_id"] = info.name, info.version, info.run_id
    written = write_scores(rows, SEGMENTS_TABLE, scoring_date=day, settings=settings)
    return SegmentReport(
        scoring_date=day,
        rows=written,
        k=result.k,
        silhouette=result.silhouette,
        sizes=result.sizes,
        dbscan=result.dbscan,
        model_name=info.name,
        model_version=info.version,
        mlflow_run_id=info.run_id,
    )
