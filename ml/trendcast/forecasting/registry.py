"""The model registry: which registered version serves (``ModelInfo``), the pyfunc wrapper, loading versions.

One registered model per forecasting target (``trendcast-item-demand`` for target ``item_demand``) so the
``@champion`` alias can move between model families; each version records its family, fold cutoffs and
horizon as version tags. Logging runs lives in :mod:`trendcast.forecasting.run_log`, the MLflow session and
names in :mod:`trendcast.forecasting.mlflow_session`, and only :func:`trendcast.forecasting.promotion.promote_if_better`
moves ``@champion``.

MLflow is imported inside functions: importing it costs seconds and the CLI / DAG parsing must stay fast.
"""

from __future__ import annotations

import json
import logging
import math
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from trendcast.exceptions import ModelNotFoundError
from trendcast.forecasting.mlflow_session import registered_model_name, tracking_session, tracking_uri
from trendcast.settings import Settings, get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from trendcast.forecasting.models.base import Forecaster

__all__ = [
    "CHAMPION",
    "CHALLENGER",
    "DEFAULT_HORIZON",
    "ModelInfo",
    "finite",
    "get_model_info",
    "resolve_version",
    "load_champion",
    "load_model_version",
]

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
DEFAULT_HORIZON = 28


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


def finite(value: Any) -> bool:
    """Whether ``value`` converts to a finite float."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------------------------------- pyfunc wrapper

_PYFUNC_CLASS: type | None = None


def pyfunc_class() -> type:
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
        return pyfunc_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        return resolve_version(client, name, alias=alias, version=version, run_id=run_id, settings=settings)


def resolve_version(
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
