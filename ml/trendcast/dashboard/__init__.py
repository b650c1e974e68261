"""The trend dashboard (FastAPI app mounted in Airflow's api-server) and the data it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from trendcast.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """See :func:`trendcast.dashboard.app.create_app` (imported on call, so this package imports fast)."""
    from trendcast.dashboard.app import create_app as _create_app

    return _create_app(settings)
