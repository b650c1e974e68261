"""MLflow tracking and registry: log backtest runs, promote challengers to ``@champion``, load the champion.

One registered model per forecasting target (``trendcast-item-demand`` for target ``item_demand``) so the
``@champion`` alias can move between model families; each version records its family, fold cutoffs and
horizon as version tags. Only :func:`promote_if_better` moves ``@champion``.

MLflow is imported inside functions: importing it costs seconds and the CLI / DAG parsing must stay fast.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from trendcast.exceptions import ModelNotFoundError
from trendcast.settings import Settings, get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from trendcast.forecasting.models.base import Forecaster

__all__ = [
    "CHAMPION",
    "CHALLENGER",
    "BIAS_RANGE",
    "ModelInfo",
    "PromotionDecision",
    "tracking_uri",
    "tracking_session",
    "experiment_id_for",
    "experiment_name",
    "registered_model_name",
    "log_backtest_run",
    "get_model_info",
    "promote_if_better",
    "load_champion",
    "load_model_version",
]

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
#: A challenger's bias (sum of forecasts / sum of actuals over the backtest) must lie in this closed range.
BIAS_RANGE: tuple[float, float] = (0.85, 1.15)
#: Key of the SeasonalNaive entry in ``baseline_metrics`` (matched case- and punctuation-insensitively).
SEASONAL_NAIVE = "SeasonalNaive"
#: Optional key of ``baseline_metrics`` holding the current champion's metrics on the challenger's folds.
CHAMPION_KEY = "champion"
DEFAULT_HORIZON = 28
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


class ModelInfo(BaseModel):
    """Which registered model version a forecast came from; written beside every forecast row."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Registered model name, e.g. trendcast-item-demand.")
    version: str = Field(description="Registered model version.")
    alias: str | None = Field(None, description="Alias the version was resolved through, e.g. champion.")
    run_id: str = Field(description="MLflow run that logged the model.")
    family: str | None = Field(None, description="Model family (the forecaster's name), a version tag.")
    fold_cutoffs: tuple[str, ...] = Field((), description="Backtest fold cutoffs (ISO dates) of the version.")
    fallback: bool = Field(False, description="A baseline serving because no trained model passed promotion.")


class PromotionDecision(BaseModel):
    """Outcome of :func:`promote_if_better`, logged to MLflow as tags and a JSON artifact."""

    target: str
    registered_model: str
    promoted: bool
    fallback: bool = Field(False, description="A baseline serving because no trained model passed promotion.")
    reason: str
    challenger_version: str
    champion_version: str | None = Field(None, description="Champion before the decision, if any.")
    challenger_wrmsse: float | None
    champion_wrmsse: float | None = None
    seasonal_naive_wrmsse: float | None = None
    challenger_bias: float | None
    margin: float
    decided_at: str


# --------------------------------------------------------------------------------------------- names & URIs


def tracking_uri(settings: Settings | None = None) -> str:
    """The configured tracking URI, default ``sqlite:///<state_dir>/mlflow/mlflow.db`` (folder created)."""
    settings = settings or get_settings()
    configured = settings.mlflow_tracking_uri
    if configured:
        return str(configured)
    folder = settings.state_path / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def _is_local(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def experiment_name(target: str) -> str:
    return f"trendcast/{target}"


def registered_model_name(target: str) -> str:
    """One registered model per target, for all families (``item_demand`` -> ``trendcast-item-demand``)."""
    return "trendcast-" + target.replace("_", "-").lower()


@contextmanager
def tracking_session(settings: Settings) -> Iterator[MlflowClient]:
    """A client for the configured store, with MLflow's global URIs pointing there meanwhile.

    The fluent API (start_run, log_model) and some client paths (registering a logged model, loading
    ``models:/`` URIs) read the global URI, so it is set for the block and restored afterwards.
    """
    import mlflow
    from mlflow import MlflowClient

    uri = tracking_uri(settings)
    previous = os.environ.get("MLFLOW_TRACKING_URI"), os.environ.get("MLFLOW_REGISTRY_URI")
    progress = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    if progress is None:  # download progress bars only clutter task logs
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield MlflowClient(tracking_uri=uri, registry_uri=uri)
    finally:
        if progress is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])  # type: ignore[arg-type]
        if previous[1] is None:  # set_registry_uri(None) leaves the environment variable behind
            os.environ.pop("MLFLOW_REGISTRY_URI", None)


def experiment_id_for(client: MlflowClient, target: str, settings: Settings) -> str:
    from mlflow.exceptions import MlflowException

    name = experiment_name(target)
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    uri = tracking_uri(settings)
    # A tracking server owns its artifact store; locally MLflow would default to ./mlruns under the cwd.
    location = (settings.state_path / "mlflow" / "artifacts").as_uri() if _is_local(uri) else None
    try:
        return client.create_experiment(name, artifact_location=location, tags={"trendcast.target": target})
    except MlflowException:  # created concurrently by another process
        existing = client.get_experiment_by_name(name)
        if existing is None:
            raise
        return existing.experiment_id


# ------------------------------------------------------------------------------------------- pyfunc wrapper

_PYFUNC_CLASS: type | None = None


def _pyfunc_class() -> type:
    """Build the PythonModel subclass on first use (subclassing needs ``mlflow`` imported).

    It is published as the module attribute ``ForecasterPyfunc`` (see ``__getattr__``) so pickles reference
    it by name instead of embedding its code.
    """
    global _PYFUNC_CLASS
    if _PYFUNC_CLASS is None:
        import mlflow.pyfunc

        class ForecasterPyfunc(mlflow.pyfunc.PythonModel):
            """Serve a fitted Forecaster: rows of ``model_input`` select series, ``params={"h": 28}``."""

            def __init__(self, default_h: int = DEFAULT_HORIZON) -> None:
                self.default_h = default_h
                self.forecaster: Any = None

            def load_context(self, context: Any) -> None:
                import cloudpickle

                with open(context.artifacts["forecaster"], "rb") as handle:
                    self.forecaster = cloudpickle.load(handle)

            # pd.DataFrame is a hint MLflow accepts without deriving a schema; the signature is the schema.
            def predict(
                self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
            ) -> pd.DataFrame:
                h = int((params or {}).get("h") or self.default_h)
                frame = pd.DataFrame(model_input)
                # Columns beyond unique_id are the future exogenous frame (unique_id, ds, ...).
                future = frame if len(frame.columns) > 1 and "ds" in frame.columns else None
                out = self.forecaster.predict(h, future)
                if "unique_id" in frame.columns and len(frame):
                    out = out[out["unique_id"].isin(set(frame["unique_id"].astype(str)))]
                return out.reset_index(drop=True)

        ForecasterPyfunc.__module__ = __name__
        ForecasterPyfunc.__qualname__ = "ForecasterPyfunc"
        _PYFUNC_CLASS = ForecasterPyfunc
    return _PYFUNC_CLASS


def __getattr__(name: str) -> Any:
    if name == "ForecasterPyfunc":
        return _pyfunc_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


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
            _log_dataset(target, train_df)
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
            python_model=_pyfunc_class()(default_h=horizon),
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
        mlflow.log_metrics({f"fold_{k}": float(v) for k, v in values if _finite(v)}, step=step)
    mlflow.log_metrics({str(k): float(v) for k, v in overall.items() if _finite(v)})


def _log_dataset(target: str, train_df: pd.DataFrame) -> None:
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
        **{f"metric.{k}": f"{float(v):.6g}" for k, v in overall.items() if _finite(v)},
    }
    import mlflow

    # The fluent call resolves the logged model's id, which a tracking server requires with models:/ sources.
    version = mlflow.register_model(model_uri, name, tags=tags)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    log.info("registered %s version %s (%s) as @%s", name, version.version, family, CHALLENGER)
    return str(version.version)


# ------------------------------------------------------------------------------------------ model lookup


def _model_info(client: MlflowClient, name: str, version: Any, alias: str | None) -> ModelInfo:
    tags = dict(version.tags or {})
    try:
        cutoffs = tuple(json.loads(tags.get("fold_cutoffs", "[]")))
    except json.JSONDecodeError:
        cutoffs = ()
    return ModelInfo(
        name=name,
        version=str(version.version),
        alias=alias,
        run_id=version.run_id,
        family=tags.get("family"),
        fold_cutoffs=cutoffs,
        fallback=tags.get("trendcast.fallback") == "baseline",
    )


def get_model_info(
    target: str,
    *,
    alias: str | None = CHAMPION,
    version: str | int | None = None,
    run_id: str | None = None,
    settings: Settings | None = None,
) -> ModelInfo:
    """Resolve a registered version by ``version``, by the ``run_id`` that logged it, or by ``alias``.

    Raises:
        ModelNotFoundError: when nothing matches.
    """
    settings = settings or get_settings()
    name = registered_model_name(target)
    with tracking_session(settings) as client:
        return _resolve(client, name, alias=alias, version=version, run_id=run_id, settings=settings)


def _resolve(
    client: MlflowClient,
    name: str,
    *,
    alias: str | None,
    version: str | int | None,
    run_id: str | None,
    settings: Settings,
) -> ModelInfo:
    from mlflow.exceptions import MlflowException

    try:
        if version is not None:
            return _model_info(client, name, client.get_model_version(name, str(version)), None)
        if run_id is not None:
            found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
            if not found:
                raise ModelNotFoundError(f"run {run_id} has no registered version of {name!r}")
            return _model_info(client, name, max(found, key=lambda v: int(v.version)), None)
        if alias is None:
            raise ValueError("give an alias, a version or a run_id")
        return _model_info(client, name, client.get_model_version_by_alias(name, alias), alias)
    except MlflowException as exc:
        what = f"version {version}" if version is not None else f"alias @{alias}"
        raise ModelNotFoundError(
            f"registered model {name!r} has no {what} in the MLflow registry at {tracking_uri(settings)}: "
            "train and promote a model first (trendcast train)"
        ) from exc


def load_model_version(target: str, version: str | int, settings: Settings | None = None) -> Forecaster:
    """The fitted Forecaster inside a registered version (the pyfunc wrapper's payload)."""
    import mlflow.pyfunc

    settings = settings or get_settings()
    uri = f"models:/{registered_model_name(target)}/{version}"
    with tracking_session(settings):
        pyfunc = mlflow.pyfunc.load_model(uri)
    return pyfunc.unwrap_python_model().forecaster


def load_champion(target: str, settings: Settings | None = None) -> tuple[Forecaster, ModelInfo]:
    """The ``@champion`` forecaster and where it came from.

    The alias is resolved once and the version loaded by number, so a promotion running meanwhile cannot
    hand back a model that does not match the returned info.

    Raises:
        ModelNotFoundError: when no version of ``trendcast-<target>`` carries ``@champion``.
    """
    settings = settings or get_settings()
    info = get_model_info(target, alias=CHAMPION, settings=settings)
    model = load_model_version(target, info.version, settings)
    log.info("loaded %s version %s (@%s, %s)", info.name, info.version, CHAMPION, info.family)
    return model, info


# --------------------------------------------------------------------------------------------- promotion


def _norm(key: str) -> str:
    return "".join(ch for ch in str(key).lower() if ch.isalnum())


def _metric(metrics: Mapping[str, Any] | None, name: str) -> float | None:
    for key, value in (metrics or {}).items():
        if _norm(key) == _norm(name) and _finite(value):
            return float(value)
    return None


def _baseline(baselines: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    for key, value in baselines.items():
        if _norm(key) == _norm(name):
            return value
    return None


def _run_metrics(client: MlflowClient, run_id: str) -> dict[str, float]:
    return dict(client.get_run(run_id).data.metrics)


def promote_if_better(
    target: str,
    challenger_version: str | int,
    challenger_metrics: Mapping[str, float] | None,
    baseline_metrics: Mapping[str, Mapping[str, float]],
    margin: float | None = None,
    settings: Settings | None = None,
) -> PromotionDecision:
    """Move ``@champion`` to the challenger only when it wins on the same folds; log the decision either way.

    Rules (all must hold):
      * bias (sum forecast / sum actual) within :data:`BIAS_RANGE` — WRMSSE alone rewards shrunken forecasts;
      * WRMSSE at least ``margin`` (relative, 0.02 = 2 %) below SeasonalNaive's (``baseline_metrics``);
      * when a champion exists: WRMSSE at least ``margin`` below the champion's. The champion's WRMSSE is
        ``baseline_metrics["champion"]`` when the caller re-evaluated it on the challenger's folds, otherwise
        its logged WRMSSE if its ``fold_cutoffs`` tag equals the challenger's; without either, no promotion
        (metrics from different folds are not comparable). The same margin damps alias churn between
        models that are equally good.

    Args:
        challenger_metrics: Overall metrics with ``wrmsse`` and ``bias``; None reads them from the run.
        baseline_metrics: ``{"SeasonalNaive": {"wrmsse": …}, "champion": {...}?}`` on the challenger's folds.
        margin: Relative improvement required; default settings ``promotion_margin`` (0.02).
    """
    settings = settings or get_settings()
    if margin is None:
        margin = settings.promotion_margin
    name = registered_model_name(target)
    sn_wrmsse = _metric(_baseline(baseline_metrics, SEASONAL_NAIVE), "wrmsse")
    if sn_wrmsse is None:
        raise ValueError(
            f"baseline_metrics needs {SEASONAL_NAIVE!r} with a finite 'wrmsse'; got {dict(baseline_metrics)}"
        )
    with tracking_session(settings) as client:
        challenger = _resolve(client, name, alias=None, version=challenger_version, run_id=None, settings=settings)
        if challenger_metrics is None:
            challenger_metrics = _run_metrics(client, challenger.run_id)
        try:
            champion: ModelInfo | None = _resolve(
                client, name, alias=CHAMPION, version=None, run_id=None, settings=settings
            )
        except ModelNotFoundError:
            champion = None
        champion_wrmsse, champion_note = None, ""
        if champion is not None and champion.version != challenger.version:
            recomputed = _baseline(baseline_metrics, CHAMPION_KEY)
            if recomputed is not None:
                champion_wrmsse = _metric(recomputed, "wrmsse")
                champion_note = " (re-evaluated on the challenger's folds)"
            elif champion.fold_cutoffs == challenger.fold_cutoffs:
                champion_wrmsse = _metric(_run_metrics(client, champion.run_id), "wrmsse")
        decision = _decide(target, name, challenger, champion, challenger_metrics, sn_wrmsse, champion_wrmsse, margin)
        if champion_note and not decision.promoted:
            decision = decision.model_copy(update={"reason": decision.reason + champion_note})
        if champion is None or champion.version != challenger.version:  # keep the champion's own record
            _record(client, decision, challenger, champion)
    return decision


def _decide(
    target: str,
    name: str,
    challenger: ModelInfo,
    champion: ModelInfo | None,
    challenger_metrics: Mapping[str, Any],
    sn_wrmsse: float,
    champion_wrmsse: float | None,
    margin: float,
) -> PromotionDecision:
    """Apply the promotion rules; every failed rule is named in the reason."""
    wrmsse = _metric(challenger_metrics, "wrmsse")
    bias = _metric(challenger_metrics, "bias")
    rival = champion if champion is not None and champion.version != challenger.version else None
    failures: list[str] = []
    if champion is not None and rival is None:
        failures.append(f"version {challenger.version} already is @{CHAMPION}")
    if wrmsse is None:
        failures.append("challenger has no finite wrmsse")
    if bias is None or not BIAS_RANGE[0] <= bias <= BIAS_RANGE[1]:
        shown = "none" if bias is None else f"{bias:.2f}"
        failures.append(f"bias {shown} outside [{BIAS_RANGE[0]}, {BIAS_RANGE[1]}]")
    if wrmsse is not None and wrmsse > sn_wrmsse * (1 - margin):
        failures.append(f"wrmsse {wrmsse:.4f} not {margin:.0%} below SeasonalNaive's {sn_wrmsse:.4f}")
    if rival is not None and champion_wrmsse is None:
        failures.append(
            f"champion v{rival.version} was evaluated on other folds {list(rival.fold_cutoffs)} than the "
            f"challenger {list(challenger.fold_cutoffs)}: pass its metrics on the challenger's folds as "
            f"baseline_metrics[{CHAMPION_KEY!r}]"
        )
    elif rival is not None and wrmsse is not None and wrmsse > champion_wrmsse * (1 - margin):
        failures.append(f"wrmsse {wrmsse:.4f} not {margin:.0%} below champion v{rival.version}'s {champion_wrmsse:.4f}")
    if failures:
        reason = "; ".join(failures)
    else:
        versus = f"champion v{rival.version} {champion_wrmsse:.4f}" if rival else "no champion yet"
        reason = (
            f"wrmsse {wrmsse:.4f} beats SeasonalNaive {sn_wrmsse:.4f} and {versus} by >= {margin:.0%}; bias {bias:.3f}"
        )
    return PromotionDecision(
        target=target,
        registered_model=name,
        promoted=not failures,
        reason=reason,
        challenger_version=challenger.version,
        champion_version=champion.version if champion else None,
        challenger_wrmsse=wrmsse,
        champion_wrmsse=champion_wrmsse,
        seasonal_naive_wrmsse=sn_wrmsse,
        challenger_bias=bias,
        margin=margin,
        decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _record(
    client: MlflowClient, decision: PromotionDecision, challenger: ModelInfo, champion: ModelInfo | None
) -> None:
    """Tags on the run and versions plus a JSON artifact; the alias moves only when promoted."""
    outcome = "promoted" if decision.promoted else "rejected"
    model, reason = decision.registered_model, decision.reason[:5000]  # MLflow tag values are bounded
    client.set_tag(challenger.run_id, "trendcast.promotion", outcome)
    client.set_tag(challenger.run_id, "trendcast.promotion_reason", reason)
    client.log_dict(challenger.run_id, decision.model_dump(mode="json"), "promotion_decision.json")
    client.set_model_version_tag(model, challenger.version, "promotion", outcome)
    client.set_model_version_tag(model, challenger.version, "promotion_reason", reason)
    client.set_model_version_tag(model, challenger.version, "promotion_decided_at", decision.decided_at)
    if not decision.promoted:
        log.info("kept @%s of %s; v%s rejected: %s", CHAMPION, model, challenger.version, reason)
        return
    client.set_registered_model_alias(model, CHAMPION, challenger.version)
    client.set_model_version_tag(model, challenger.version, "promoted_at", decision.decided_at)
    if champion is not None:
        client.set_model_version_tag(model, champion.version, "replaced_by", challenger.version)
    log.info("promoted %s v%s to @%s: %s", model, challenger.version, CHAMPION, reason)
