"""A human decision: ``trendcast promote MODEL VERSION`` moves ``@champion`` to a registered version.

The automatic rules (:func:`trendcast.forecasting.promotion.promote_if_better`) stay the default; this records
who chose otherwise and why, as tags on the version, so the MLflow UI shows it beside the automatic decisions.
"""

from __future__ import annotations

import getpass
import logging
from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import BaseModel

from trendcast.exceptions import UnknownNameError
from trendcast.settings import Settings, get_settings

__all__ = ["ManualPromotion", "promote_version", "promote_command"]

log = logging.getLogger(__name__)


class ManualPromotion(BaseModel):
    """Which version now serves, which served before, and who decided why."""

    registered_model: str
    version: str
    family: str | None
    previous_version: str | None
    promoted_by: str
    reason: str
    decided_at: str


def promote_version(
    model: str, version: str | int, *, by: str, reason: str, settings: Settings | None = None
) -> ManualPromotion:
    """Set ``@champion`` of registered ``model`` (``trendcast-item-demand`` or ``item_demand``) to ``version``.

    Raises:
        UnknownNameError: unknown model or version; the message lists the valid ones (the CLI exits 2).
    """
    from mlflow.exceptions import MlflowException

    from trendcast.forecasting.mlflow_session import tracking_session
    from trendcast.forecasting.registry import CHAMPION

    settings = settings or get_settings()
    with tracking_session(settings) as client:
        names = sorted(m.name for m in client.search_registered_models())
        name = model if model in names else "trendcast-" + model.replace("_", "-").lower()
        if name not in names:
            raise UnknownNameError(
                f"unknown registered model {model!r}; registered: {', '.join(names) or 'none (run trendcast train)'}"
            )
        versions = sorted((str(v.version) for v in client.search_model_versions(f"name = '{name}'")), key=int)
        if str(version) not in versions:
            raise UnknownNameError(f"{name} has no version {version}; versions: {', '.join(versions)}")
        try:
            previous: str | None = str(client.get_model_version_by_alias(name, CHAMPION).version)
        except MlflowException:
            previous = None
        decided_at = datetime.now(UTC).isoformat(timespec="seconds")
        client.set_registered_model_alias(name, CHAMPION, str(version))
        tags = {
            "promotion": "manual",
            "promoted_by": by,
            "promotion_reason": reason[:5000],
            "promoted_at": decided_at,
        }
        for key, value in tags.items():
            client.set_model_version_tag(name, str(version), key, value)
        chosen = client.get_model_version(name, str(version))
        if "trendcast.fallback" in chosen.tags:  # a human chose it: no longer a fallback
            client.delete_model_version_tag(name, str(version), "trendcast.fallback")
        if previous is not None and previous != str(version):
            client.set_model_version_tag(name, previous, "replaced_by", str(version))
        family = chosen.tags.get("family")
    log.info("%s v%s set to @%s by %s (was v%s): %s", name, version, CHAMPION, by, previous, reason)
    return ManualPromotion(
        registered_model=name,
        version=str(version),
        family=family,
        previous_version=previous,
        promoted_by=by,
        reason=reason,
        decided_at=decided_at,
    )


def promote_command(
    model: Annotated[str, typer.Argument(help="Registered model, e.g. trendcast-item-demand (or item_demand).")],
    version: Annotated[int, typer.Argument(help="Registered version to serve as @champion.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded as a version tag).")] = "manual",
    by: Annotated[str | None, typer.Option("--by", help="Who decides (default: the current user).")] = None,
) -> None:
    """Serve a registered version as @champion (a human decision, recorded with who and why)."""
    from rich.console import Console

    done = promote_version(model, version, by=by or getpass.getuser(), reason=reason)  # errors: the CLI's group
    was = f"v{done.previous_version}" if done.previous_version else "none"
    Console().print(
        f"@champion of {done.registered_model}: v{done.version} ({done.family}), was {was}; "
        f"by {done.promoted_by}: {done.reason}",
        highlight=False,
        soft_wrap=True,
    )
