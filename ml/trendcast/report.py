"""``trendcast report --out FILE.html``: the dashboard's views as one self-contained HTML file.

plotly.js is inlined from the installed ``plotly`` package (no CDN), so the file opens offline. The explorer
embeds the top-selling items' charts; the live dashboard (``/trendcast/`` in Airflow) searches every item.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from trendcast.settings import Settings, get_settings

__all__ = ["render_report", "write_report"]

log = logging.getLogger(__name__)


def render_report(settings: Settings | None = None, *, n_items: int = 20) -> str:
    """The report's HTML, read through one read-only warehouse connection."""
    from trendcast.dashboard import queries, views
    from trendcast.dashboard.db import ReadOnlyWarehouse
    from trendcast.dashboard.render import page_environment, plotly_js_path

    settings = settings or get_settings()
    warehouse = ReadOnlyWarehouse(settings)
    try:
        with warehouse.connection() as conn:
            tables = queries.available_tables(conn)
            items = []
            for row in queries.top_items(conn, n_items):
                item = views.item_view(conn, row["item_id"], tables)
                if item is not None:
                    items.append(item)
            context = {
                "ov": views.overview(conn),
                "tv": views.trends_view(conn),
                "av": views.anomalies_view(conn),
                "pv": views.propensity_view(conn),
                "rv": views.recommendations_view(conn),
                "items": items,
            }
    finally:
        warehouse.dispose()
    # "</script" cannot occur inside an inline script; plotly.min.js has none, but guard against future bundles.
    plotly_js = plotly_js_path().read_text(encoding="utf-8").replace("</script", "<\\/script")
    location = settings.duckdb_file if settings.warehouse == "duckdb" else f"postgres {settings.pg_database}"
    return (
        page_environment()
        .get_template("report.html")
        .render(
            title="Report",
            active="",
            base="",
            nav=[
                ("#overview", "Overview"),
                ("#explorer", "Item explorer"),
                ("#trends", "Trends"),
                ("#anomalies", "Anomalies"),
                ("#propensity", "Propensity"),
                ("#recommendations", "Recommendations"),
            ],
            subtitle="offline report",
            plotly_tag=f'<script type="text/javascript">{plotly_js}</script>',
            generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            source=str(location),
            **context,
        )
    )


def write_report(
    settings: Settings | None = None, path: Path | str = "trendcast-report.html", *, n_items: int = 20
) -> Path:
    """Write the self-contained HTML report to ``path`` (folders created); returns the absolute path."""
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    html = render_report(settings, n_items=n_items)
    target.write_text(html, encoding="utf-8")
    log.info("wrote report %s (%.1f MB)", target, target.stat().st_size / 1e6)
    return target
