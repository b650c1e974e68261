"""Purchase propensity: will a customer buy within the next 30 days?

Protocol (time-based, leakage-free). A model "as of" day A uses only data up to A: training examples are
customer snapshots at cutoffs A - h, A - h - s, ... (h = horizon, s = cutoff step) whose labels end on or
before A. XGBoost is fitted on the older cutoffs and calibrated (Platt / isotonic) on the newest one, so the
probabilities are calibrated on data the trees never saw. Evaluation: a model as of T = data cutoff - h scores
the customers as of T and is compared with the purchases in (T, T + h], beside two baselines fitted on the same
snapshots: a recency rule (purchase rate of the customer's recency bin) and a logistic regression on log RFM.

``train_propensity`` logs that evaluation to MLflow, fits the same pipeline as of the data cutoff, registers
it as ``@challenger`` of ``trendcast-customer-purchase-propensity`` and promotes it to ``@champion`` when it beats
both baselines and is no worse than the champion's pipeline re-fitted on the same split.
``score_propensity`` writes the champion's probability for every known customer to
``scores.customer_purchase_propensity``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from trendcast.behaviour.customer_features import (
    FEATURE_COLUMNS,
    RFM_COLUMNS,
    customer_features,
    data_cutoff,
    load_customer_activity,
    purchase_labels,
)
from trendcast.exceptions import DataValidationError
from trendcast.promotion_policy import shortfall
from trendcast.settings import Settings, get_settings

if TYPE_CHECKING:
    from trendcast.forecasting.registry import ModelInfo

__all__ = [
    "TARGET",
    "PropensityParams",
    "PropensityEvaluation",
    "PropensityTrainReport",
    "PropensityScoreReport",
    "snapshot_cutoffs",
    "labelled_snapshots",
    "fit_propensity_model",
    "classification_metrics",
    "evaluate_propensity",
    "train_propensity",
    "score_propensity",
]

log = logging.getLogger(__name__)

TARGET = "customer_purchase_propensity"


class PropensityParams(BaseModel):
    """Hyperparameters of the propensity pipeline (logged to MLflow in one call)."""

    model_config = ConfigDict(frozen=True)

    horizon_days: int = Field(30, description="Label: any sale order within this many days after the cutoff.")
    n_cutoffs: int = Field(4, ge=2, description="Training snapshots; the newest calibrates, the others train.")
    cutoff_step_days: int = Field(30, description="Days between training snapshots.")
    calibration: str = Field("sigmoid", pattern="^(sigmoid|isotonic)$", description="Calibration method.")
    n_estimators: int = 300
    max_depth: int = 4
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 5.0
    random_state: int = 0


class PropensityEvaluation(BaseModel):
    eval_cutoff: dt.date
    train_cutoffs: list[dt.date]
    n_customers: int
    base_rate: float
    metrics: dict[str, dict[str, float]] = Field(description="model -> roc_auc, pr_auc, log_loss, brier, ece.")


class PropensityTrainReport(BaseModel):
    evaluation: PropensityEvaluation
    model_name: str
    model_version: str
    mlflow_run_id: str
    promoted: bool
    reason: str
    champion_version: str | None


class PropensityScoreReport(BaseModel):
    scoring_date: dt.date
    rows: int
    mean_probability: float
    model_name: str
    model_version: str
    mlflow_run_id: str


# ------------------------------------------------------------------------------------------------ data


def snapshot_cutoffs(as_of: dt.date, params: PropensityParams) -> list[dt.date]:
    """Training cutoffs of a model as of ``as_of``, newest first (its labels end on ``as_of``)."""
    newest = as_of - dt.timedelta(days=params.horizon_days)
    return [newest - dt.timedelta(days=k * params.cutoff_step_days) for k in range(params.n_cutoffs)]


def labelled_snapshots(activity: pd.DataFrame, cutoffs: Sequence[dt.date], horizon_days: int) -> pd.DataFrame:
    """Features as of each cutoff with the label of the next ``horizon_days`` (column ``cutoff``, ``label``)."""
    frames = []
    for cutoff in cutoffs:
        features = customer_features(activity, cutoff)
        labels = purchase_labels(activity, cutoff, horizon_days)
        features["label"] = features["customer_key"].isin(labels.index).astype("int8")
        features["cutoff"] = pd.Timestamp(cutoff)
        frames.append(features)
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------- models


def _xgb(params: PropensityParams) -> Any:
    from xgboost import XGBClassifier

    return XGBClassifier(
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        learning_rate=params.learning_rate,
        subsample=params.subsample,
        colsample_bytree=params.colsample_bytree,
        min_child_weight=params.min_child_weight,
        random_state=params.random_state,
        tree_method="hist",
        n_jobs=2,
        eval_metric="logloss",
    )


def fit_propensity_model(snapshots: pd.DataFrame, params: PropensityParams) -> Any:
    """XGBoost on every snapshot but the newest, calibrated on the newest (a fitted sklearn classifier)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    newest = snapshots["cutoff"].max()
    train, calib = snapshots[snapshots["cutoff"] < newest], snapshots[snapshots["cutoff"] == newest]
    if train["label"].nunique() < 2 or calib["label"].nunique() < 2:
        raise DataValidationError(
            f"propensity training needs buyers and non-buyers in every split; got {len(train)} training rows "
            f"({int(train['label'].sum())} buyers) and {len(calib)} calibration rows ({int(calib['label'].sum())})"
        )
    base = _xgb(params).fit(train[FEATURE_COLUMNS], train["label"])
    model = CalibratedClassifierCV(FrozenEstimator(base), method=params.calibration)
    return model.fit(calib[FEATURE_COLUMNS], calib["label"])


def _logistic(snapshots: pd.DataFrame) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    def log_rfm(x: pd.DataFrame) -> np.ndarray:
        values = np.asarray(x, dtype=float)
        return np.log1p(np.clip(values, 0, None))

    model = make_pipeline(FunctionTransformer(log_rfm), StandardScaler(), LogisticRegression(max_iter=1000))
    return model.fit(snapshots[[*RFM_COLUMNS, "tenure_days"]], snapshots["label"])


class _RecencyRule:
    """P(buy) = the training purchase rate of the customer's recency bin (deciles of recency)."""

    def fit(self, snapshots: pd.DataFrame) -> _RecencyRule:
        recency = snapshots["recency_days"].to_numpy(dtype=float)
        self.edges = np.unique(np.quantile(recency, np.linspace(0, 1, 11)[1:-1]))
        bins = np.searchsorted(self.edges, recency, side="right")
        labels = snapshots["label"].to_numpy(dtype=float)
        overall = labels.mean()
        # light smoothing towards the overall rate keeps empty / tiny bins finite
        self.rates = np.array(
            [(labels[bins == b].sum() + overall) / ((bins == b).sum() + 1) for b in range(len(self.edges) + 1)]
        )
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        bins = np.searchsorted(self.edges, features["recency_days"].to_numpy(dtype=float), side="right")
        return self.rates[bins]


def classification_metrics(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), log loss, Brier score and expected calibration error."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    ece = sum(abs(p[bins == b].mean() - y[bins == b].mean()) * (bins == b).mean() for b in np.unique(bins))
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": float(ece),
    }


def _positive(model: Any, features: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(features)[:, 1]


def evaluate_propensity(
    activity: pd.DataFrame,
    params: PropensityParams | None = None,
    *,
    eval_cutoff: dt.date | None = None,
) -> PropensityEvaluation:
    """Fit every model as of ``eval_cutoff`` (default: data cutoff - horizon) and score the next ``horizon``."""
    params = params or PropensityParams()
    eval_cutoff = eval_cutoff or data_cutoff(activity) - dt.timedelta(days=params.horizon_days)
    cutoffs = snapshot_cutoffs(eval_cutoff, params)
    train = labelled_snapshots(activity, cutoffs, params.horizon_days)
    test = labelled_snapshots(activity, [eval_cutoff], params.horizon_days)
    y = test["label"].to_numpy()
    if len(np.unique(y)) < 2:
        raise DataValidationError(f"evaluation cutoff {eval_cutoff}: every customer has the same label")
    xgb = fit_propensity_model(train, params)
    predictions = {
        "xgboost": _positive(xgb, test[FEATURE_COLUMNS]),
        "xgboost_uncalibrated": _positive(xgb.estimator, test[FEATURE_COLUMNS]),
        "logistic_rfm": _positive(_logistic(train), test[[*RFM_COLUMNS, "tenure_days"]]),
        "recency_rule": _RecencyRule().fit(train).predict(test),
    }
    metrics = {name: classification_metrics(y, p) for name, p in predictions.items()}
    for name, values in metrics.items():
        log.info("propensity %s at %s: %s", name, eval_cutoff, {k: round(v, 4) for k, v in values.items()})
    return PropensityEvaluation(
        eval_cutoff=eval_cutoff,
        train_cutoffs=cutoffs,
        n_customers=len(test),
        base_rate=float(y.mean()),
        metrics=metrics,
    )


# ---------------------------------------------------------------------------------------- train & promote


def _decide(
    challenger: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    champion: Mapping[str, float] | None,
    *,
    margin: float,
) -> tuple[bool, str]:
    """Promote when the challenger beats every baseline on ROC-AUC and log loss, and beats a champion of another
    pipeline on the same split by ``margin`` on both (:mod:`trendcast.promotion_policy`)."""
    failures = []
    for name, base in baselines.items():
        for metric, higher in (("roc_auc", True), ("log_loss", False)):
            why = shortfall(metric, challenger[metric], base[metric], name, margin=0.0, higher_is_better=higher)
            if why:
                failures.append(why)
    if champion is not None:
        for metric, higher in (("roc_auc", True), ("log_loss", False)):
            why = shortfall(
                metric, challenger[metric], champion[metric], "the champion", margin=margin, higher_is_better=higher
            )
            if why:
                failures.append(why)
    if failures:
        return False, "; ".join(failures)
    versus = "the champion's pipeline" if champion is not None else "no champion of another pipeline"
    return (
        True,
        f"roc_auc {challenger['roc_auc']:.4f}, log_loss {challenger['log_loss']:.4f} beat the baselines; {versus}",
    )


def _params_from_run(run_params: Mapping[str, str]) -> PropensityParams | None:
    try:
        return PropensityParams.model_validate_json(run_params.get("pipeline_params", ""))
    except ValueError:
        return None


def train_propensity(
    settings: Settings | None = None,
    params: PropensityParams | None = None,
    *,
    activity: pd.DataFrame | None = None,
) -> PropensityTrainReport:
    """Evaluate on the latest labelled split, fit as of the data cutoff, register, and promote if it wins."""
    from trendcast.behaviour import tracking

    settings = settings or get_settings()
    params = params or PropensityParams()
    activity = load_customer_activity(settings) if activity is None else activity
    evaluation = evaluate_propensity(activity, params)
    as_of = data_cutoff(activity)
    snapshots = labelled_snapshots(activity, snapshot_cutoffs(as_of, params), params.horizon_days)
    model = fit_propensity_model(snapshots, params)
    example = snapshots[FEATURE_COLUMNS].head(5)
    flat_metrics = {
        (k if name == "xgboost" else f"{name}.{k}"): v for name, m in evaluation.metrics.items() for k, v in m.items()
    }
    flat_metrics["base_rate"] = evaluation.base_rate
    info = tracking.log_and_register(
        TARGET,
        model,
        params={
            **params.model_dump(),
            "pipeline_params": params.model_dump_json(),
            "eval_cutoff": evaluation.eval_cutoff.isoformat(),
            "as_of": as_of.isoformat(),
            "n_training_rows": len(snapshots),
        },
        metrics=flat_metrics,
        example=example,
        output_example=np.array([[0.5, 0.5]] * len(example)),
        tags={"family": "xgboost", "eval_cutoff": evaluation.eval_cutoff.isoformat(), "as_of": as_of.isoformat()},
        settings=settings,
        artifacts={"evaluation.json": json.loads(evaluation.model_dump_json())},
    )
    champion = tracking.champion_info(TARGET, settings)
    champion_metrics = None
    if champion is not None:
        _, _, run_params = tracking.load_sklearn_version(TARGET, champion.version, settings)
        champion_params = _params_from_run(run_params)
        # The same pipeline refitted: same split, same numbers, so nothing to compare and the newer data wins.
        if champion_params is not None and champion_params != params:
            champion_metrics = evaluate_propensity(activity, champion_params).metrics["xgboost"]
    baselines = {k: evaluation.metrics[k] for k in ("logistic_rfm", "recency_rule")}
    promoted, reason = _decide(
        evaluation.metrics["xgboost"], baselines, champion_metrics, margin=settings.promotion_margin
    )
    tags = {"promotion": "promoted" if promoted else "rejected", "promotion_reason": reason}
    if promoted:
        tracking.set_alias(TARGET, info.version, tracking.CHAMPION, settings, tags)
    else:
        tracking.set_alias(TARGET, info.version, tracking.CHALLENGER, settings, tags)
    log.info("propensity v%s %s: %s", info.version, tags["promotion"], reason)
    return PropensityTrainReport(
        evaluation=evaluation,
        model_name=info.name,
        model_version=info.version,
        mlflow_run_id=info.run_id,
        promoted=promoted,
        reason=reason,
        champion_version=champion.version if champion else None,
    )


# ------------------------------------------------------------------------------------------------ score


def _bootstrap_champion(history: pd.DataFrame, params: PropensityParams | None, settings: Settings) -> ModelInfo | None:
    """Train the first model on ``history`` (nothing after the scoring date) and make it ``@champion`` even when
    it lost to a baseline: a fresh install always scores; the weekly retrain replaces it once a model wins."""
    from trendcast.behaviour import tracking

    log.warning("no @champion for %s yet: training the first one", TARGET)
    report = train_propensity(settings, params, activity=history)
    if not report.promoted:
        reason = (
            "bootstrap: no @champion yet and the first model did not beat the baselines "
            f"({report.reason}); served until a retrained model does"
        )
        log.warning("%s v%s: %s", report.model_name, report.model_version, reason)
        tags = {"promotion": "bootstrap", "promotion_reason": reason}
        tracking.set_alias(TARGET, report.model_version, tracking.CHAMPION, settings, tags)
    return tracking.champion_info(TARGET, settings)


def score_propensity(
    settings: Settings | None = None,
    *,
    scoring_date: dt.date | None = None,
    activity: pd.DataFrame | None = None,
    train_if_missing: bool = False,
    params: PropensityParams | None = None,
) -> PropensityScoreReport:
    """The ``@champion``'s purchase probability for every customer known on ``scoring_date`` (default: the
    data cutoff), written to ``scores.customer_purchase_propensity`` (that date replaced in one transaction).

    With ``train_if_missing`` a fresh install bootstraps instead of failing: it trains the first model (``params``)
    on the activity up to the scoring date only, and serves it as ``@champion`` even when it did not beat the
    baselines (tagged ``promotion=bootstrap``) until the weekly retrain promotes one that does.

    Raises:
        ModelNotFoundError: when no champion exists (run ``trendcast propensity --train``).
    """
    from trendcast.behaviour import tracking
    from trendcast.behaviour.scores import PROPENSITY_TABLE, write_scores
    from trendcast.exceptions import ModelNotFoundError

    settings = settings or get_settings()
    activity = load_customer_activity(settings, as_of=scoring_date) if activity is None else activity
    day = scoring_date or data_cutoff(activity)
    info = tracking.champion_info(TARGET, settings)
    if info is None and train_if_missing:
        info = _bootstrap_champion(activity[activity["activity_date"] <= pd.Timestamp(day)], params, settings)
    if info is None:
        raise ModelNotFoundError(f"no @champion for {TARGET}: run `trendcast propensity --train` first")
    model, columns, run_params = tracking.load_sklearn_version(TARGET, info.version, settings)
    features = customer_features(activity, day)
    probability = _positive(model, features[columns])
    ranks = pd.Series(probability).rank(method="first", ascending=False)
    rows = features[["customer_key", *RFM_COLUMNS]].copy()
    rows["purchase_probability"] = probability
    rows["propensity_decile"] = np.ceil(ranks * 10 / len(rows)).astype("int32").to_numpy()
    rows["horizon_days"] = int(run_params.get("horizon_days", 30))
    rows["recency_days"] = rows["recency_days"].astype("int32")
    rows["model_name"], rows["model_version"], rows["model_alias"] = info.name, info.version, tracking.CHAMPION
    rows["mlflow_run_id"] = info.run_id
    written = write_scores(rows, PROPENSITY_TABLE, scoring_date=day, settings=settings)
    return PropensityScoreReport(
        scoring_date=day,
        rows=written,
        mean_probability=float(probability.mean()) if len(probability) else float("nan"),
        model_name=info.name,
        model_version=info.version,
        mlflow_run_id=info.run_id,
    )
