"""Recommendation jobs: weekly training with MLflow tracking and promotion, daily top-10 scoring write-back.

* :func:`train_recommenders` (weekly DAG, ``trendcast recommend --train``): evaluates popularity, item-item
  co-occurrence and SASRec on the leave-last-out split (:mod:`trendcast.behaviour.recommendations`), refits the
  learned families on every basket, logs one MLflow run per family in ``trendcast/recommendations`` and registers
  each as a version of ``trendcast-recommendations`` (``@challenger``). The best NDCG@10 of the run becomes
  ``@champion`` when it beats popularity and the current champion on the same split (a champion evaluated on an
  older split is superseded: its family was re-evaluated on the current split in the same run).
* :func:`score_recommendations` (daily DAG, ``trendcast recommend``): the ``@champion`` ranks every item for every
  known customer from their current history; the top 10 go to ``scores.customer_recommendations``, replacing that
  scoring date in one transaction.
* With a clickstream (``marts.ml_customer_item_events``, e.g. generated data) co-occurrence also learns from co-viewed
  sessions and adds each customer's recent views / carts to their history (``event_weight``, logged with the
  params); without one (Online Retail II) nothing changes.
"""

from __future__ import annotations

import logging
import pickle
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from trendcast.behaviour.baskets import (
    EVENTS_SQL,
    EVENTS_TABLE,
    PURCHASES_SQL,
    Browsing,
    PurchaseData,
    leave_last_out,
    load_browsing,
    load_purchases,
    split_browsing,
)
from trendcast.behaviour.fitted_recommender import FAMILIES, FittedRecommender, fit_family, split_signature
from trendcast.behaviour.recommendations import (
    TOP_K,
    PopularityRecommender,
    evaluate,
)
from trendcast.behaviour.scores import ScoreTable, write_scores
from trendcast.exceptions import ModelNotFoundError
from trendcast.promotion_policy import improves
from trendcast.settings import Settings, get_settings

__all__ = [
    "TARGET",
    "RECOMMENDATIONS_TABLE",
    "TrainResult",
    "train_recommenders",
    "load_champion_recommender",
    "score_recommendations",
]

log = logging.getLogger(__name__)

TARGET = "recommendations"  # registered model trendcast-recommendations, experiment trendcast/recommendations
RECOMMENDATIONS_TABLE = ScoreTable(
    name="customer_recommendations",
    columns={
        "scoring_date": "date not null",
        "customer_key": "varchar not null",
        "rank": "integer not null",
        "item_id": "varchar not null",
        "score": "double precision not null",
        "model_alias": "varchar",
        "model_name": "varchar not null",
        "model_version": "varchar not null",
        "mlflow_run_id": "varchar not null",
        "written_at": "timestamp not null",
    },
    primary_key=("scoring_date", "customer_key", "rank"),
)


@dataclass
class TrainResult:
    """Metrics of one weekly run and where its models went."""

    split: str
    n_users: int
    n_items: int
    metrics: dict[str, dict[str, float]]
    versions: dict[str, str]
    champion_version: str | None
    promoted: bool
    reason: str


# ---------------------------------------------------------------------------------------------- MLflow


_PYFUNC_CLASS: type | None = None


def _pyfunc_class() -> type:
    """PythonModel serving a FittedRecommender: input = purchases frame, output = top-k rows per customer."""
    global _PYFUNC_CLASS
    if _PYFUNC_CLASS is None:
        import mlflow.pyfunc

        class RecommenderPyfunc(mlflow.pyfunc.PythonModel):
            def load_context(self, context: Any) -> None:
                with open(context.artifacts["recommender"], "rb") as handle:
                    self.fitted = pickle.load(handle)

            def predict(
                self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
            ) -> pd.DataFrame:
                return self.fitted.recommend(pd.DataFrame(model_input), int((params or {}).get("k") or TOP_K))

        RecommenderPyfunc.__module__ = __name__
        RecommenderPyfunc.__qualname__ = "RecommenderPyfunc"
        _PYFUNC_CLASS = RecommenderPyfunc
    return _PYFUNC_CLASS


def __getattr__(name: str) -> Any:
    if name == "RecommenderPyfunc":
        return _pyfunc_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _signature() -> Any:
    """Input: purchase lines of the customers to score; output: their top-k rows; param ``k``."""
    from mlflow.models import infer_signature

    example_in = pd.DataFrame(
        {
            "customer_key": ["a", "a"],
            "invoice_id": ["1", "2"],
            "invoiced_at": pd.to_datetime(["2011-12-01", "2011-12-02"]),
            "item_id": ["85123A", "22423"],
        }
    )
    example_out = pd.DataFrame({"customer_key": ["a"], "rank": np.int32([1]), "item_id": ["85123A"], "score": [1.0]})
    with warnings.catch_warnings():  # rank is never missing: the integer-column hint does not apply
        warnings.filterwarnings("ignore", message=".*integer column.*")
        return infer_signature(example_in, example_out, params={"k": TOP_K})


def _metric_key(name: str) -> str:
    """MLflow metric names allow no '@': ``ndcg@10`` is logged as ``ndcg_at_10``."""
    return name.replace("@", "_at_")


def _log_family(
    fitted: FittedRecommender, metrics: dict[str, float], baseline: dict[str, float], signature: str, settings: Settings
) -> tuple[str, str]:
    """One MLflow run with params, metrics and the pyfunc model; a new registered version aliased @challenger."""
    import math

    import mlflow
    from mlflow.exceptions import MlflowException

    from trendcast.behaviour.tracking import _pins
    from trendcast.forecasting import mlflow_session, registry

    name = mlflow_session.registered_model_name(TARGET)
    tags = {"family": fitted.family, "split": signature, "target": TARGET}
    with mlflow_session.tracking_session(settings) as client, tempfile.TemporaryDirectory() as tmp:
        experiment = mlflow_session.experiment_id_for(client, TARGET, settings)
        path = Path(tmp) / "recommender.pkl"
        path.write_bytes(pickle.dumps(fitted))
        with (
            mlflow.start_run(experiment_id=experiment, run_name=fitted.family, tags=tags) as run,
            warnings.catch_warnings(),
        ):
            mlflow.log_params({k: "None" if v is None else v for k, v in fitted.params.items()})
            finite = {
                _metric_key(k): float(v) for k, v in metrics.items() if isinstance(v, int | float) and math.isfinite(v)
            }
            mlflow.log_metrics(finite)
            mlflow.log_metrics({f"popularity_{_metric_key(k)}": float(v) for k, v in baseline.items()})
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=_pyfunc_class()(),
                artifacts={"recommender": str(path)},
                signature=_signature(),
                pip_requirements=_pins("mlflow", "pandas", "numpy", "scipy", "torch", "trendcast"),
            )
            run_id = run.info.run_id
        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name, tags={"trendcast.target": TARGET})
        version_tags = {**tags, **{f"metric.{k}": f"{v:.6g}" for k, v in finite.items()}}
        version = mlflow.register_model(info.model_uri, name, tags=version_tags)
        client.set_registered_model_alias(name, registry.CHALLENGER, version.version)
    log.info(
        "registered %s v%s (%s) as @challenger: NDCG@10 %.4f", name, version.version, fitted.family, metrics["ndcg@10"]
    )
    return str(version.version), run_id


def _champion_metric(settings: Settings) -> tuple[str | None, str | None, float | None]:
    """Version, split digest and NDCG@10 of the current @champion (all None without one)."""
    from trendcast.behaviour.tracking import champion_info
    from trendcast.forecasting import mlflow_session

    info = champion_info(TARGET, settings)
    if info is None:
        return None, None, None
    with mlflow_session.tracking_session(settings) as client:
        tags = dict(client.get_model_version(mlflow_session.registered_model_name(TARGET), info.version).tags or {})
    ndcg = tags.get(f"metric.{_metric_key('ndcg@10')}")
    return info.version, tags.get("split"), float(ndcg) if ndcg is not None else None


def train_recommenders(
    settings: Settings | None = None,
    *,
    families: Sequence[str] = FAMILIES,
    sasrec_config: Any = None,
    data: PurchaseData | None = None,
    browsing: Browsing | None = None,
) -> TrainResult:
    """Evaluate, refit on all baskets, log, register and (maybe) promote; see the module docstring.

    Without ``data`` purchases and the clickstream (when ingested) come from the warehouse; co-occurrence reads
    the clickstream when there is one (``event_weight`` logged with its params)."""
    from trendcast.behaviour.tracking import CHAMPION, set_alias

    settings = settings or get_settings()
    if data is None:
        data = load_purchases(settings)
        browsing = load_browsing(settings, data)
    split = leave_last_out(data.histories, data.customers)
    profiles, sessions = split_browsing(browsing, data) if browsing is not None else (None, None)
    signature = split_signature(split, data.items)
    popularity = PopularityRecommender().fit(split.train_histories, data.n_items)
    baseline = evaluate(popularity, split.inputs, split.targets)
    metrics: dict[str, dict[str, float]] = {"popularity": baseline}
    versions: dict[str, str] = {}
    for family in families:
        reads_events = family == "cooccurrence" and browsing is not None
        model = fit_family(
            family,
            split.train_histories,
            data.n_items,
            sasrec_config=sasrec_config,
            sessions=sessions if reads_events else None,
        )
        params = model.params()
        metrics[family] = evaluate(model, split.inputs, split.targets, browsing=profiles if reads_events else None)
        # Served model: same hyperparameters, refit on every basket (co-occurrence keeps the tuned values).
        final = fit_family(
            family,
            data.histories,
            data.n_items,
            params=params if family == "cooccurrence" else None,
            sasrec_config=getattr(model, "config", None),
            sessions=browsing.sessions(data.n_items) if reads_events else None,
        )
        if hasattr(final, "to_cpu"):
            final.to_cpu()
        fitted = FittedRecommender(family=family, items=data.items, model=final, params=params)
        versions[family], _ = _log_family(fitted, metrics[family], baseline, signature, settings)

    best = max(versions, key=lambda f: metrics[f]["ndcg@10"])
    best_ndcg = metrics[best]["ndcg@10"]
    champ_version, champ_split, champ_ndcg = _champion_metric(settings)
    if not improves(best_ndcg, baseline["ndcg@10"], margin=0.0, higher_is_better=True):
        promoted, reason = False, f"{best} NDCG@10 {best_ndcg:.4f} does not beat popularity {baseline['ndcg@10']:.4f}"
    elif (
        champ_version is not None
        and champ_split == signature
        and champ_ndcg is not None
        and not improves(best_ndcg, champ_ndcg, margin=settings.promotion_margin, higher_is_better=True)
    ):
        promoted, reason = (
            False,
            f"{best} NDCG@10 {best_ndcg:.4f} does not beat champion v{champ_version} {champ_ndcg:.4f} "
            f"by {settings.promotion_margin:.0%}",
        )
    else:
        promoted = True
        versus = (
            f"champion v{champ_version} {champ_ndcg:.4f} on the same split"
            if champ_split == signature and champ_ndcg is not None
            else "no champion on this split"
        )
        reason = f"{best} NDCG@10 {best_ndcg:.4f} beats popularity {baseline['ndcg@10']:.4f} and {versus}"
        set_alias(
            TARGET, versions[best], CHAMPION, settings, tags={"promotion": "promoted", "promotion_reason": reason}
        )
        champ_version = versions[best]
    if champ_version is None:
        # Nothing to serve yet and no learned model beats the baseline (e.g. a shop without customer-level
        # preferences): serve popularity so that the daily scoring still writes lists.
        final = PopularityRecommender().fit(data.histories, data.n_items)
        fitted = FittedRecommender(family="popularity", items=data.items, model=final, params={})
        versions["popularity"], _ = _log_family(fitted, baseline, baseline, signature, settings)
        promoted, reason = True, f"{reason}; popularity serves as @champion until a learned model beats it"
        set_alias(
            TARGET,
            versions["popularity"],
            CHAMPION,
            settings,
            tags={"promotion": "promoted", "promotion_reason": reason},
        )
        champ_version = versions["popularity"]
    log.info("recommendations: %s", reason)
    return TrainResult(
        split=signature,
        n_users=split.n_users,
        n_items=data.n_items,
        metrics=metrics,
        versions=versions,
        champion_version=champ_version,
        promoted=promoted,
        reason=reason,
    )


def load_champion_recommender(settings: Settings | None = None) -> tuple[FittedRecommender, Any]:
    """The ``@champion`` recommender and its ModelInfo; ModelNotFoundError when none is promoted yet."""
    import mlflow.pyfunc

    from trendcast.behaviour.tracking import CHAMPION, champion_info
    from trendcast.forecasting import mlflow_session

    settings = settings or get_settings()
    info = champion_info(TARGET, settings)
    if info is None:
        raise ModelNotFoundError(
            f"{mlflow_session.registered_model_name(TARGET)} has no @{CHAMPION}: "
            "run `trendcast recommend --train` first"
        )
    with mlflow_session.tracking_session(settings):
        pyfunc = mlflow.pyfunc.load_model(f"models:/{info.name}/{info.version}")
    return pyfunc.unwrap_python_model().fitted, info


def score_recommendations(
    settings: Settings | None = None,
    *,
    scoring_date: Any = None,
    k: int = TOP_K,
    fitted: FittedRecommender | None = None,
    model_info: Any = None,
) -> int:
    """Top-k items for every customer with a purchase up to ``scoring_date`` (default: the last purchase date),
    from the champion; replaces that date's rows of ``scores.customer_recommendations`` in one transaction.
    Returns rows written."""
    from trendcast.warehouse import connect, table_exists

    settings = settings or get_settings()
    if fitted is None:
        fitted, model_info = load_champion_recommender(settings)
    with connect(settings) as conn:
        purchases = pd.DataFrame(conn.execute(sa.text(PURCHASES_SQL)).mappings().all())
        events = None
        if getattr(fitted.model, "event_weight", 0) > 0 and table_exists(conn, *EVENTS_TABLE):
            events = pd.DataFrame(conn.execute(sa.text(EVENTS_SQL)).mappings().all())
    if scoring_date is not None:  # a backfill sees the histories as they were at the end of that day
        end = pd.Timestamp(scoring_date).normalize() + pd.Timedelta(days=1)
        purchases = purchases[pd.to_datetime(purchases["invoiced_at"]) < end]
    scoring_date = scoring_date or pd.Timestamp(purchases["invoiced_at"].max()).date()
    # browsing of the days up to the end of the scoring date (events after it are never read)
    rows = fitted.recommend(
        purchases, k, events=events, until=pd.Timestamp(scoring_date).normalize() + pd.Timedelta(days=1)
    )
    info = model_info or {}
    get = info.get if isinstance(info, dict) else lambda key: getattr(info, key, None)
    rows = rows.assign(
        model_alias=get("alias"),
        model_name=str(get("name") or f"trendcast-{TARGET}"),
        model_version=str(get("version") or "unregistered"),
        mlflow_run_id=str(get("run_id") or "none"),
    )
    rows["model_alias"] = rows["model_alias"].astype(object)
    written = write_scores(rows, RECOMMENDATIONS_TABLE, scoring_date=scoring_date, settings=settings)
    log.info("wrote top-%d recommendations for %s customers (%s)", k, rows["customer_key"].nunique(), fitted.family)
    return written
