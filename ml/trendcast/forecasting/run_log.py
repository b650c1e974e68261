"""Log one backtest run to MLflow (params, per-fold metrics, dataset, figure, pyfunc model) and register it
as a new ``@challenger`` version."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel

from trendcast.forecasting.mlflow_session import experiment_id_for, registered_model_name, tracking_session
from trendcast.forecasting.registry import CHALLENGER, finite, pyfunc_class
from trendcast.settings import Settings, get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from trendcast.forecasting.models.base import Forecaster


__all__ = ["MAX_DATASET_ROWS", "log_backtest_run", "log_training_dataset"]

log = logging.getLogger(__name__)

#: Training frames above this many rows are logged to MLflow as a seeded sample (schema + digest of all).
MAX_DATASET_ROWS = 10_000
_MODEL_ARTIFACT = "model"
_FORECASTER_FILE = "forecaster.pkl"
# Libraries a pickled forecaster may reference; their versions are pinned in the model's requirements.
_OPTIONAL_REQUIREMENTS = {
    "xgboost": "xgboost",
    "torch": "torch",
    "statsforecast": "statsforecast",
    "utilsforecast": "utilsforecast",
    "mlforecast": "mlforecast",
    "sklearn": "scikit-learn",
    "scipy": "scipy",
    "statsmodels": "statsmodels",
    "lightgbm": "lightgbm",
}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _pip_requirements(pickled: bytes) -> list[str]:
    """Pinned requirements: the serving stack plus every optional library the pickle references."""
    dists = ["mlflow", "cloudpickle", "pandas", "numpy", "pydantic", "trendcast"]
    dists += [dist for module, dist in _OPTIONAL_REQUIREMENTS.items() if module.encode() + b"." in pickled]
    pins = [(d, _version(d)) for d in dict.fromkeys(dists)]
    return [f"{d}=={v}" for d, v in pins if v]


def _signature(horizon: int, future_example: pd.DataFrame | None) -> Any:
    """Signature inferred on a two-row example; no model call is needed."""
    from mlflow.models import infer_signature

    from trendcast.forecasting.models.base import forecast_columns

    if future_example is not None and len(future_example):
        example_in = future_example.head(2).reset_index(drop=True)
    else:
        example_in = pd.DataFrame({"unique_id": ["A", "B"]})
    example_out = pd.DataFrame({c: [1.0, 2.0] for c in forecast_columns()})
    example_out["unique_id"] = ["A", "B"]
    example_out["ds"] = pd.to_datetime(["2011-12-10", "2011-12-10"])
    return infer_signature(example_in, example_out, params={"h": int(horizon)})


# ------------------------------------------------------------------------------------------------ logging


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def _params_dict(params: Any) -> dict[str, Any]:
    if hasattr(params, "model_dump"):  # typed hyperparameters (pydantic)
        params = params.model_dump(mode="json")
    return _flatten(dict(params or {}))


def _fold_table(fold_metrics: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """Fold cutoffs (ISO dates) and a numeric frame, one row per fold, sorted by cutoff.

    Accepts wide frames (``cutoff`` or ``fold`` + metric columns, e.g. one model's rows of
    ``Evaluation.summary``, whose ``fold == "mean"`` row is dropped) and long ``cutoff, metric, value``.
    """
    frame = fold_metrics.copy()
    if "model" in frame.columns and frame["model"].nunique() > 1:
        raise ValueError(f"fold_metrics holds several models {sorted(frame['model'].unique())}: pass one")
    if {"metric", "value"} <= set(frame.columns):
        index = "cutoff" if "cutoff" in frame.columns else "fold"
        frame = frame.pivot_table(index=index, columns="metric", values="value").reset_index()
    if "fold" in frame.columns:
        frame = frame[frame["fold"].astype(str) != "mean"]
        if "cutoff" not in frame.columns:
            parsed = pd.to_datetime(frame["fold"], errors="coerce")
            if parsed.notna().all():
                frame = frame.assign(cutoff=parsed)
    cutoffs: list[str] = []
    if "cutoff" in frame.columns:
        frame = frame.assign(cutoff=pd.to_datetime(frame["cutoff"])).sort_values("cutoff")
        cutoffs = [c.date().isoformat() for c in frame["cutoff"]]
    numeric = frame.drop(columns=[c for c in ("cutoff", "fold") if c in frame.columns])
    return cutoffs, numeric.select_dtypes("number").reset_index(drop=True)


def _digest(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def _profile(frame: pd.DataFrame) -> dict[str, Any]:
    profile: dict[str, Any] = {"rows": len(frame), "columns": list(map(str, frame.columns))}
    if "unique_id" in frame.columns:
        profile["series"] = int(frame["unique_id"].nunique())
    if "ds" in frame.columns and len(frame):
        profile["start"] = str(pd.Timestamp(frame["ds"].min()).date())
        profile["end"] = str(pd.Timestamp(frame["ds"].max()).date())
    if "y" in frame.columns and len(frame):
        profile["total_y"] = float(frame["y"].sum())
        profile["zero_share"] = float((frame["y"] == 0).mean())
    return profile


def _default_plot(fold_numeric: pd.DataFrame, cutoffs: list[str], model_name: str) -> Any:
    import plotly.graph_objects as go

    x = cutoffs or list(range(len(fold_numeric)))
    fig = go.Figure()
    for column in fold_numeric.columns:
        fig.add_trace(go.Scatter(x=x, y=fold_numeric[column], mode="lines+markers", name=str(column)))
    fig.update_layout(title=f"{model_name}: backtest metrics per fold", xaxis_title="fold cutoff")
    return fig


def log_backtest_run(
    target: str,
    model_name: str,
    model: Forecaster,
    params: Mapping[str, Any] | BaseModel,
    fold_metrics: pd.DataFrame,
    overall: Mapping[str, float],
    train_df: pd.DataFrame,
    plot_fig: Any = None,
    settings: Settings | None = None,
    *,
    horizon: int | None = None,
    future_example: pd.DataFrame | None = None,
    register: bool = True,
) -> str:
    """Log one backtest and its fitted model; register it as a new version aliased ``@challenger``.

    Args:
        target: Forecasting target, e.g. ``item_demand`` (experiment ``trendcast/item_demand``).
        model_name: Model family, e.g. ``SeasonalNaive`` or ``xgboost``; recorded as the ``family`` tag.
        model: The fitted forecaster to serve (cloudpickled inside an MLflow pyfunc).
        params: Hyperparameters (dict or pydantic model; nested keys flattened with dots).
        fold_metrics: One row per fold (``cutoff`` + metric columns), or long ``cutoff, metric, value``.
            Logged with ``step`` = fold index as ``fold_<metric>``; cutoffs become the ``fold_cutoffs`` tag.
        overall: Metrics over all folds (``wrmsse``, ``bias``, …), logged under their own names.
        train_df: The training frame; its digest covers every row, a sample is logged when it is large.
        plot_fig: A plotly (HTML artifact) or matplotlib (PNG) figure; default: metrics per fold.
        horizon: Default ``h`` of the served model (settings ``forecast_horizon``, 28).
        future_example: A few rows of the future exogenous frame, when the model needs one at predict time.
        register: Register the model and set ``@challenger`` (False: log only).

    Returns:
        The MLflow run id.
    """
    import cloudpickle
    import mlflow

    settings = settings or get_settings()
    horizon = int(horizon or settings.forecast_horizon)
    cutoffs, fold_numeric = _fold_table(fold_metrics)
    pickled = cloudpickle.dumps(model)
    tags = {
        "trendcast.target": target,
        "trendcast.family": model_name,
        "trendcast.horizon": str(horizon),
        "trendcast.fold_cutoffs": json.dumps(cutoffs),
    }
    with tracking_session(settings) as client:
        experiment_id = experiment_id_for(client, target, settings)
        with mlflow.start_run(experiment_id=experiment_id, run_name=model_name, tags=tags) as run:
            run_id = run.info.run_id
            _log_params_and_metrics(params, fold_numeric, overall)
            log_training_dataset(target, train_df)
            figure = plot_fig if plot_fig is not None else _default_plot(fold_numeric, cutoffs, model_name)
            is_plotly = type(figure).__module__.startswith("plotly")
            mlflow.log_figure(figure, "backtest.html" if is_plotly else "backtest.png")
            with tempfile.TemporaryDirectory() as tmp:
                pickle_path = Path(tmp) / _FORECASTER_FILE
                pickle_path.write_bytes(pickled)
                info = _log_pyfunc(
                    horizon=horizon,
                    pickle_path=pickle_path,
                    signature=_signature(horizon, future_example),
                    pip_requirements=_pip_requirements(pickled),
                )
        log.info(
            "logged %s backtest run %s for %s (WRMSSE %.3f)",
            model_name,
            run_id,
            target,
            overall.get("wrmsse", float("nan")),
        )
        if register:
            _register(client, target, model_name, run_id, info.model_uri, cutoffs, horizon, overall)
    return run_id


def _log_pyfunc(*, horizon: int, pickle_path: Path, signature: Any, pip_requirements: list[str]) -> Any:
    import mlflow

    with warnings.catch_warnings():
        # An input example would make MLflow run a full forecast just to validate serving; the
        # signature already describes the input.
        warnings.filterwarnings("ignore", message=".*input example was not provided.*")
        return mlflow.pyfunc.log_model(
            name=_MODEL_ARTIFACT,
            python_model=pyfunc_class()(default_h=horizon),
            artifacts={"forecaster": str(pickle_path)},
            signature=signature,
            pip_requirements=pip_requirements,
        )


def _log_params_and_metrics(
    params: Mapping[str, Any] | BaseModel, fold_numeric: pd.DataFrame, overall: Mapping[str, float]
) -> None:
    import mlflow

    flat = _params_dict(params)
    if flat:
        mlflow.log_params({k: "None" if v is None else v for k, v in flat.items()})
    for step, row in enumerate(fold_numeric.itertuples(index=False)):
        values = zip(fold_numeric.columns, row, strict=True)
        mlflow.log_metrics({f"fold_{k}": float(v) for k, v in values if finite(v)}, step=step)
    mlflow.log_metrics({str(k): float(v) for k, v in overall.items() if finite(v)})


def log_training_dataset(target: str, train_df: pd.DataFrame) -> None:
    """The training input: digest of every row, a seeded sample when large, and a profile artifact."""
    import mlflow

    sample = train_df
    if len(train_df) > MAX_DATASET_ROWS:
        sample = train_df.sample(n=MAX_DATASET_ROWS, random_state=0).sort_index()
    dataset = mlflow.data.from_pandas(
        sample.reset_index(drop=True),
        name=f"{target}_train",
        digest=_digest(train_df),
        targets="y" if "y" in sample.columns else None,
    )
    mlflow.log_input(dataset, context="training", tags={"sampled": str(len(sample) < len(train_df)).lower()})
    mlflow.log_dict(_profile(train_df), "dataset_profile.json")


def _register(
    client: MlflowClient,
    target: str,
    family: str,
    run_id: str,
    model_uri: str,
    cutoffs: list[str],
    horizon: int,
    overall: Mapping[str, float],
) -> str:
    from mlflow.exceptions import MlflowException

    name = registered_model_name(target)
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, tags={"trendcast.target": target}, description=f"trendcast forecasts for {target}"
        )
    tags = {
        "family": family,
        "target": target,
        "horizon": str(horizon),
        "fold_cutoffs": json.dumps(cutoffs),
        **{f"metric.{k}": f"{float(v):.6g}" for k, v in overall.items() if finite(v)},
    }
    import mlflow

    # The fluent call resolves the logged model's id, which a tracking server requires with models:/ sources.
    version = mlflow.register_model(model_uri, name, tags=tags)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    log.info("registered %s version %s (%s) as @%s", name, version.version, family, CHALLENGER)
    return str(version.version)
