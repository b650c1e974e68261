"""The trend dashboard: a FastAPI app with HTML pages and JSON endpoints over read-only warehouse queries.

Mounted by the Airflow plugin (``plugins/trendcast_dashboard.py``) under ``/trendcast`` in the api-server, or run
alone: ``uvicorn --factory trendcast.dashboard.app:create_app``. Links are built from the mount point
(``root_path``), so both work. Request values reach SQL only as bound parameters (see :mod:`.queries`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection
from starlette.exceptions import HTTPException as StarletteHTTPException

from trendcast.dashboard import queries, views
from trendcast.dashboard.db import ReadOnlyWarehouse, WarehouseMissingError
from trendcast.dashboard.render import page_environment, plotly_js_path
from trendcast.settings import Settings, get_settings

__all__ = ["create_app", "PAGES"]

log = logging.getLogger(__name__)

#: (path, label) of the pages, in navigation order.
PAGES: tuple[tuple[str, str], ...] = (
    ("/", "Overview"),
    ("/explorer", "Item explorer"),
    ("/trends", "Trends"),
    ("/anomalies", "Anomalies"),
    ("/propensity", "Propensity"),
    ("/recommendations", "Recommendations"),
)
_ID_MAX = 64
ItemId = Annotated[str, PathParam(min_length=1, max_length=_ID_MAX, description="Item (stock code) id.")]
CategoryName = Annotated[str, PathParam(min_length=1, max_length=_ID_MAX, description="Category name.")]
CountryName = Annotated[str, PathParam(min_length=1, max_length=_ID_MAX, description="Country name, e.g. France.")]
CustomerKey = Annotated[
    str, PathParam(min_length=1, max_length=_ID_MAX, description="Customer key (64 hex characters).")
]
Limit = Annotated[int, Query(ge=1, le=200, description="Rows to return.")]
Threshold = Annotated[float, Query(ge=0, le=1, description="Probability counted as likely to buy.")]


def _warehouse(app: FastAPI) -> ReadOnlyWarehouse:
    """The app's warehouse reader, created on first use (settings resolved then, not at import)."""
    if app.state.warehouse is None:
        app.state.warehouse = ReadOnlyWarehouse(app.state.settings or get_settings())
    return app.state.warehouse


def _connection(request: Request) -> Iterator[Connection]:
    """One short-lived read-only connection per request."""
    with _warehouse(request.app).connection() as conn:
        yield conn


Conn = Annotated[Connection, Depends(_connection)]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The dashboard app; ``settings`` default to :func:`trendcast.settings.get_settings` on first request."""
    app = FastAPI(
        title="trendcast dashboard",
        version="1",
        description="Demand forecasts, model leaderboard, trends and anomalies read (read-only) from the warehouse.",
    )
    app.state.settings = settings
    app.state.warehouse = None
    env = page_environment()

    def warehouse() -> ReadOnlyWarehouse:
        return _warehouse(app)

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    def page(request: Request, template: str, active: str, **context: Any) -> HTMLResponse:
        prefix = base(request)
        html = env.get_template(template).render(
            title=active,
            active=active,
            base=prefix,
            nav=[(f"{prefix}{path}", label) for path, label in PAGES],
            subtitle=f"{warehouse().kind} warehouse, read-only",
            plotly_tag=f'<script src="{prefix}/static/plotly.min.js"></script>',
            **context,
        )
        return HTMLResponse(html)

    def wants_html(request: Request) -> bool:
        return "/api/" not in request.url.path

    def error_response(request: Request, status: int, message: str) -> Response:
        if wants_html(request):
            response = page(request, "error.html", "Error", status=status, message=message)
            response.status_code = status
            return response
        return JSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(WarehouseMissingError)
    async def _missing(request: Request, exc: WarehouseMissingError) -> Response:
        response = error_response(request, 503, str(exc))
        response.headers["Retry-After"] = "30"
        return response

    # ------------------------------------------------------------------------------------------------ pages

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview_page(request: Request, conn: Conn) -> HTMLResponse:
        return page(request, "overview.html", "Overview", ov=views.overview(conn))

    @app.get("/explorer", response_class=HTMLResponse, include_in_schema=False)
    def explorer_page(
        request: Request,
        conn: Conn,
        item: Annotated[str | None, Query(max_length=_ID_MAX)] = None,
        category: Annotated[str | None, Query(max_length=_ID_MAX)] = None,
        country: Annotated[str | None, Query(max_length=_ID_MAX)] = None,
    ) -> HTMLResponse:
        choices = views.explorer_choices(conn)
        if item is None and choices["top_items"]:
            item = choices["top_items"][0]["item_id"]
        item_data = views.item_view(conn, item) if item else None
        if item and item_data is None:
            raise HTTPException(404, f"unknown item {item!r}")
        if category is None and item_data is not None:
            category = item_data["item"]["category"]
        category_data = views.category_view(conn, category) if category else None
        if category and category_data is None:
            raise HTTPException(404, f"unknown category {category!r}")
        if country is None and choices["countries"]:
            country = choices["countries"][0]["country"]
        country_data = views.country_view(conn, country) if country else None
        if country and country_data is None:
            raise HTTPException(404, f"unknown country {country!r}")
        return page(
            request,
            "explorer.html",
            "Item explorer",
            choices=choices,
            item=item_data,
            category=category,
            category_data=category_data,
            country=country,
            country_data=country_data,
        )

    @app.get("/trends", response_class=HTMLResponse, include_in_schema=False)
    def trends_page(request: Request, conn: Conn) -> HTMLResponse:
        return page(request, "trends.html", "Trends", tv=views.trends_view(conn))

    @app.get("/anomalies", response_class=HTMLResponse, include_in_schema=False)
    def anomalies_page(request: Request, conn: Conn) -> HTMLResponse:
        return page(request, "anomalies.html", "Anomalies", av=views.anomalies_view(conn))

    @app.get("/propensity", response_class=HTMLResponse, include_in_schema=False)
    def propensity_page(request: Request, conn: Conn) -> HTMLResponse:
        return page(request, "propensity.html", "Propensity", pv=views.propensity_view(conn))

    @app.get("/recommendations", response_class=HTMLResponse, include_in_schema=False)
    def recommendations_page(
        request: Request, conn: Conn, customer: Annotated[str | None, Query(max_length=_ID_MAX)] = None
    ) -> HTMLResponse:
        customer = customer.strip() if customer else None
        rv = views.recommendations_view(conn, customer)
        response = page(request, "recommendations.html", "Recommendations", rv=rv, customer=customer)
        if rv["invalid_customer"]:
            response.status_code = 400  # the page still shows the overview, with the "customer keys only" message
        elif customer and not rv["customer"]:
            response.status_code = 404  # the page still shows the overview, with the "no such customer" message
        return response

    @app.get("/segments", include_in_schema=False)
    def segments_page(request: Request) -> RedirectResponse:
        """Customer segments are shown on the anomalies page."""
        return RedirectResponse(f"{base(request)}/anomalies#segments")

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            plotly_js_path(), media_type="application/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

    # ------------------------------------------------------------------------------------------------- JSON

    @app.get("/api/overview", summary="Latest runs, data-quality results, leaderboard and table freshness")
    def api_overview(conn: Conn) -> dict[str, Any]:
        return views.overview(conn)

    @app.get("/api/leaderboard", summary="The latest training run's backtest leaderboard, best WRMSSE first")
    def api_leaderboard(conn: Conn) -> list[dict[str, Any]]:
        return queries.leaderboard(conn, queries.available_tables(conn))

    @app.get("/api/items", summary="Search items by id or description, optionally within a category")
    def api_items(
        conn: Conn,
        q: Annotated[str | None, Query(max_length=100, description="Text contained in id or description.")] = None,
        category: Annotated[str | None, Query(max_length=_ID_MAX)] = None,
        limit: Limit = 50,
    ) -> list[dict[str, Any]]:
        return queries.search_items(conn, q, category, limit)

    @app.get(
        "/api/items/{item_id}",
        summary="One item's actual sales, latest forecast with 80/95 % bands and backtests, as a Plotly figure",
        responses={404: {"description": "Unknown item"}},
    )
    def api_item(conn: Conn, item_id: ItemId) -> dict[str, Any]:
        data = views.item_view(conn, item_id)
        if data is None:
            raise HTTPException(404, "unknown item")
        return data

    @app.get("/api/categories", summary="Categories and their number of items")
    def api_categories(conn: Conn) -> list[dict[str, Any]]:
        return queries.categories(conn)

    @app.get(
        "/api/categories/{category}",
        summary="A category's summed daily units and point forecasts, as a Plotly figure",
        responses={404: {"description": "Unknown category"}},
    )
    def api_category(conn: Conn, category: CategoryName) -> dict[str, Any]:
        data = views.category_view(conn, category)
        if data is None:
            raise HTTPException(404, "unknown category")
        return data

    @app.get("/api/countries", summary="Countries with their units, revenue and orders, most units first")
    def api_countries(conn: Conn) -> list[dict[str, Any]]:
        return queries.countries(conn, queries.available_tables(conn))

    @app.get(
        "/api/countries/{country}",
        summary="A country's actual daily units (as a Plotly figure) and its top items of the last 28 days",
        responses={404: {"description": "Unknown country"}},
    )
    def api_country(conn: Conn, country: CountryName, limit: Limit = 20) -> dict[str, Any]:
        data = views.country_view(conn, country, limit)
        if data is None:
            raise HTTPException(404, "unknown country")
        return data

    @app.get("/api/trends", summary="Strongest latest rising or falling items or categories")
    def api_trends(
        conn: Conn,
        level: Literal["item", "category"] = "item",
        direction: Literal["rising", "falling"] = "rising",
        limit: Limit = 10,
    ) -> list[dict[str, Any]]:
        rows = queries.top_trends(conn, queries.available_tables(conn), level, direction, limit)
        weekly = queries.weekly_units(conn, level, [r["entity_id"] for r in rows])
        for row in rows:
            row["weekly_units"] = weekly.get(row["entity_id"], [])
        return rows

    @app.get("/api/anomalies", summary="Anomalous item- and shop-days of the latest detection date")
    def api_anomalies(conn: Conn, limit: Limit = 50) -> list[dict[str, Any]]:
        return queries.anomalies(conn, queries.available_tables(conn), limit)

    @app.get("/api/segments", summary="Customer segment sizes, when a segmentation has been written")
    def api_segments(conn: Conn) -> dict[str, Any] | None:
        return queries.segments(conn, queries.available_tables(conn))

    @app.get("/api/propensity", summary="Latest purchase propensity: customers above a threshold, model, histogram")
    def api_propensity(conn: Conn, threshold: Threshold = 0.5) -> dict[str, Any]:
        return views.propensity_view(conn, threshold)

    @app.get("/api/recommendations", summary="Latest recommendations: model, and the most recommended items")
    def api_recommendations(conn: Conn, limit: Limit = 20) -> dict[str, Any]:
        data = views.recommendations_view(conn, None, limit)
        return {"summary": data["summary"], "top_items": data["top_items"]}

    @app.get(
        "/api/recommendations/{customer}",
        summary="One customer's latest top-10 recommended items with descriptions",
        responses={
            400: {"description": "Not a customer key (raw customer ids are not accepted)"},
            404: {"description": "No recommendations for this customer key"},
        },
    )
    def api_customer_recommendations(conn: Conn, customer: CustomerKey) -> dict[str, Any]:
        key = views.customer_key(customer)
        if key is None:
            raise HTTPException(400, views.NOT_A_CUSTOMER_KEY)
        rows = queries.customer_recommendations(conn, queries.available_tables(conn), key)
        if not rows:
            raise HTTPException(404, "no recommendations for this customer")
        return {"customer_key": rows[0]["customer_key"], "items": rows}

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, str(exc.detail))

    return app
