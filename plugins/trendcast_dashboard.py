"""Airflow 3 plugin: the trendcast dashboard mounted in the api-server under /trendcast, linked in the navigation.

The app reads the warehouse read-only with one short-lived connection per request (on DuckDB from the snapshot the
pipeline publishes, so it never holds the file a writer needs; settings from ``TRENDCAST_*``, resolved on the
first request, not at import). Its routes are public like other plugin apps: put the api-server
behind your usual access control when the warehouse holds sensitive data.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from trendcast.dashboard import create_app

URL_PREFIX = "/trendcast"


class TrendcastDashboardPlugin(AirflowPlugin):
    """FastAPI app + navigation link."""

    name = "trendcast_dashboard"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "trendcast dashboard"}]
    external_views = [
        {
            "name": "Trend dashboard",
            "href": f"{URL_PREFIX}/",  # with the slash: /trendcast alone is served by Airflow's own SPA
            "destination": "nav",
            "category": "browse",
            "url_route": "trendcast",
        }
    ]
