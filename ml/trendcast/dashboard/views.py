"""What each dashboard page shows, as plain dicts: shared by the FastAPI app and the offline HTML report."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Connection

from trendcast.dashboard import charts, queries

#: The one answer to any lookup that is not a customer key, whether or not such a raw id exists.
NOT_A_CUSTOMER_KEY = (
    "look customers up by their customer key (64 hex characters, as in the marts and the propensity list); "
    "raw customer ids are not accepted"
)

__all__ = [
    "NOT_A_CUSTOMER_KEY",
    "overview",
    "item_view",
    "category_view",
    "country_view",
    "explorer_choices",
    "trends_view",
    "anomalies_view",
    "propensity_view",
    "customer_key",
    "recommendations_view",
]

_CUSTOMER_KEY = re.compile(r"[0-9a-f]{64}")


def overview(conn: Connection) -> dict[str, Any]:
    """Latest runs, data-quality results, the model leaderboard and the freshness of every output table."""
    tables = queries.available_tables(conn)
    board = queries.leaderboard(conn, tables)
    return {
        "runs": queries.latest_runs(conn, tables),
        "dq_results": queries.dq_latest_results(conn, tables, limit=15),
        "leaderboard": board,
        "leaderboard_figure": charts.leaderboard_figure(board) if board else None,
        "freshness": queries.freshness(conn, tables),
    }


def item_view(conn: Connection, item_id: str, tables: set[str] | None = None) -> dict[str, Any] | None:
    """One item's chart data (actuals, latest forecast, backtests); ``None`` for an unknown item."""
    info = queries.item_info(conn, item_id)
    if info is None:
        return None
    tables = tables if tables is not None else queries.available_tables(conn)
    actuals = queries.item_actuals(conn, item_id)
    forecast = queries.item_forecast(conn, tables, item_id)
    model = queries.backtest_model(conn, tables)
    backtests = queries.item_backtests(conn, tables, item_id, model)
    cutoffs = sorted({f"{c:%Y-%m-%d}" for c in backtests["cutoff"]}) if len(backtests) else []
    title = f"{item_id} - {info['description'] or ''}"
    figure = charts.item_figure(title, actuals, forecast, backtests, model)
    return {
        "item": info,
        "figure": figure,
        "n_traces": len(figure["data"]),
        "forecast_date": str(forecast["forecast_date"].iat[0]) if len(forecast) else None,
        "forecast_units": float(forecast["units_forecast"].sum()) if len(forecast) else None,
        "model": f"{forecast['model_name'].iat[0]} v{forecast['model_version'].iat[0]}" if len(forecast) else None,
        "backtest_model": model if len(backtests) else None,
        "backtest_cutoffs": cutoffs,
        "history_days": len(actuals),
    }


def category_view(conn: Connection, category: str) -> dict[str, Any] | None:
    """A category's summed actuals and point forecasts; ``None`` for an unknown category."""
    known = {row["category"] for row in queries.categories(conn)}
    if category not in known:
        return None
    tables = queries.available_tables(conn)
    actuals = queries.category_actuals(conn, category)
    forecast = queries.category_forecast(conn, tables, category)
    figure = charts.category_figure(f"Category {category}", actuals, forecast)
    return {"category": category, "figure": figure, "n_traces": len(figure["data"])}


def country_view(conn: Connection, country: str, limit: int = 20) -> dict[str, Any] | None:
    """A country's daily units and its top items of the last 28 days; ``None`` for an unknown country."""
    tables = queries.available_tables(conn)
    summary = next((row for row in queries.countries(conn, tables) if row["country"] == country), None)
    if summary is None:
        return None
    actuals = queries.country_actuals(conn, country)
    figure = charts.country_figure(f"Country {country}", actuals)
    return {
        "country": country,
        "summary": summary,
        "figure": figure,
        "n_traces": len(figure["data"]),
        "history_days": len(actuals),
        "top_items": queries.country_top_items(conn, tables, country, limit),
    }


def explorer_choices(conn: Connection, limit: int = 20) -> dict[str, Any]:
    """Top-selling items to pick from, the categories and the countries."""
    return {
        "top_items": queries.top_items(conn, limit),
        "categories": queries.categories(conn),
        "countries": queries.countries(conn, queries.available_tables(conn)),
    }


def trends_view(conn: Connection, limit: int = 10) -> dict[str, Any]:
    """Top rising and falling items and categories with sparklines (12 weeks of units) and strength charts."""
    tables = queries.available_tables(conn)
    out: dict[str, Any] = {"levels": []}
    for level in ("item", "category"):
        rising = queries.top_trends(conn, tables, level, "rising", limit)
        falling = queries.top_trends(conn, tables, level, "falling", limit)
        weekly = queries.weekly_units(conn, level, [r["entity_id"] for r in rising + falling])
        for rows, color in ((rising, "#16a34a"), (falling, "#dc2626")):
            for row in rows:
                row["weekly_units"] = weekly.get(row["entity_id"], [])
                row["sparkline"] = charts.sparkline_svg(row["weekly_units"], color=color)
        out["levels"].append(
            {
                "level": level,
                "rising": rising,
                "falling": falling,
                "figure": charts.trend_strength_figure(rising, falling, level) if rising or falling else None,
            }
        )
    return out


def anomalies_view(conn: Connection, limit: int = 50) -> dict[str, Any]:
    """The latest anomalies, the shop's daily units with anomalous days marked, and customer segments."""
    tables = queries.available_tables(conn)
    rows = queries.anomalies(conn, tables, limit)
    shop = queries.shop_daily_units(conn)
    segments = queries.segments(conn, tables)
    return {
        "anomalies": rows,
        "figure": charts.anomaly_figure(shop, rows),
        "segments": segments,
        "segment_figure": charts.segment_figure(segments["rows"]) if segments else None,
    }


def propensity_view(conn: Connection, threshold: float = 0.5, limit: int = 20) -> dict[str, Any]:
    """Latest purchase propensity: summary (customers above ``threshold``, model, date), histogram, per segment."""
    tables = queries.available_tables(conn)
    summary = queries.propensity_summary(conn, tables, threshold)
    if summary is None:
        return {"summary": None}
    bins = queries.propensity_histogram(conn, tables)
    by_segment = queries.propensity_by_segment(conn, tables, threshold)
    return {
        "summary": summary,
        "histogram": bins,
        "figure": charts.propensity_histogram_figure(bins, threshold),
        "segments": by_segment,
        "segment_figure": charts.propensity_segment_figure(by_segment) if by_segment else None,
        "top_customers": queries.propensity_top_customers(conn, tables, limit),
    }


def customer_key(customer: str) -> str | None:
    """The customer key (64 hex characters, lower-cased) the text is, or ``None``.

    Raw customer ids are never mapped to keys here: the dashboard is public, and hashing a caller's guess with
    the salt would let anyone enumerate ids and undo the pseudonymisation.
    """
    text = customer.strip().lower()
    return text if _CUSTOMER_KEY.fullmatch(text) else None


def recommendations_view(conn: Connection, customer: str | None = None, limit: int = 20) -> dict[str, Any]:
    """Latest recommendations: summary, the most recommended items, and the list of a customer looked up by its
    key (``invalid_customer`` says why when the text is not a customer key: nothing else is looked up)."""
    tables = queries.available_tables(conn)
    key = customer_key(customer) if customer else None
    summary = queries.recommendations_summary(conn, tables)
    top = queries.top_recommended_items(conn, tables, limit) if summary else []
    return {
        "summary": summary,
        "top_items": top,
        "figure": charts.recommended_items_figure(top) if top else None,
        "customer": queries.customer_recommendations(conn, tables, key) if key else [],
        "invalid_customer": NOT_A_CUSTOMER_KEY if customer and key is None else None,
    }
