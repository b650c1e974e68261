"""MLflow plumbing shared by the behaviour models: session, experiment, sklearn-flavour logging, aliases.

Thin wrappers over :mod:`trendcast.forecasting.registry` (same tracking URI, experiment layout and aliases),
for models that are plain scikit-learn estimators rather than Forecasters.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import pandas as pd

from trendcast.forecasting import mlflow_session, registry
from trendcast.forecasting.mlflow_session import registered_model_name
from trendcast.forecasting.registry import CHALLENGER, CHAMPION, ModelInfo
from trendcast.settings import Settings

__all__ = ["CHAMPION", "CHALLENGER", "log_and_register", "set_alias", "champion_info", "load_sklearn_version"]

log = logging.getLogger(__name__)


def _pins(*dists: str) -> list[str]:
    pins = []
    for dist in dists:
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def log_and_register(
    target: str,
    model: Any,
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    example: pd.DataFrame,
    output_example: Any,
    tags: Mapping[str, str],
    settings: Settings,
    artifacts: Mapping[str, Any] | None = None,
) -> ModelInfo:
    """One MLflow run in ``trendcast/<target>``: params, metrics, JSON artifacts and the sklearn model with its
    signature, registered as a new version of ``trendcast-<target>`` carrying ``@challenger``."""
    import math

    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature

    name = registered_model_name(target)
    with mlflow_session.tracking_session(settings) as client:
        experiment = mlflow_session.experiment_id_for(client, target, settings)
        with mlflow.start_run(experiment_id=experiment, tags={"trendcast.target": target, **tags}) as run:
            mlflow.log_params({k: "None" if v is None else v for k, v in params.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)})
            for file, payload in (artifacts or {}).items():
                mlflow.log_dict(payload, file)
            signature = infer_signature(example.astype(float), output_example)
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                # MLflow 3's default (skops) refuses XGBoost and calibration objects it does not know
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
                pip_requirements=_pins("mlflow", "cloudpickle", "scikit-learn", "xgboost", "pandas", "numpy"),
            )
            run_id = run.info.run_id
        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name, tags={"trendcast.target": target})
        version = mlflow.register_model(info.model_uri, name, tags=dict(tags))
        client.set_registered_model_alias(name, CHALLENGER, version.version)
    log.info("logged %s run %s, registered version %s as @%s", target, run_id, version.version, CHALLENGER)
    return ModelInfo(
        name=name, version=str(version.version), alias=CHALLENGER, run_id=run_id, family=tags.get("family")
    )


def set_alias(target: str, version: str, alias: str, settings: Settings, tags: Mapping[str, str] | None = None) -> None:
    """Point ``alias`` of ``trendcast-<target>`` at ``version`` and tag the version (e.g. the promotion reason)."""
    name = registered_model_name(target)
    with mlflow_session.tracking_session(settings) as client:
        for key, value in (tags or {}).items():
            client.set_model_version_tag(name, version, key, str(value)[:5000])
        client.set_registered_model_alias(name, alias, version)


def champion_info(target: str, settings: Settings) -> ModelInfo | None:
    """The ``@champion`` of ``trendcast-<target>``, or None when there is none yet."""
    from trendcast.exceptions import ModelNotFoundError

    try:
        return registry.get_model_info(target, alias=CHAMPION, settings=settings)
    except ModelNotFoundError:
        return None


def load_sklearn_version(target: str, version: str, settings: Settings) -> tuple[Any, list[str], dict[str, str]]:
    """The estimator of a registered version, its input column names (signature) and the run's params."""
    import mlflow.sklearn
    from mlflow.models import get_model_info

    uri = f"models:/{registered_model_name(target)}/{version}"
    with mlflow_session.tracking_session(settings) as client:
        model = mlflow.sklearn.load_model(uri)
        columns = get_model_info(uri).signature.inputs.input_names()
        run_id = client.get_model_version(registered_model_name(target), version).run_id
        params = dict(client.get_run(run_id).data.params)
    return model, list(columns), params
