"""MLflow tracking: the store's URI, experiment and registered-model names, a client session."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from trendcast.settings import Settings, get_settings

__all__ = ["tracking_uri", "experiment_name", "registered_model_name", "tracking_session", "experiment_id_for"]

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from mlflow import MlflowClient


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
