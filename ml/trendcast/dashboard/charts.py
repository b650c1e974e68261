"""Plotly figures of the dashboard and the HTML report, built from the frames :mod:`.queries` returns.

Figures come back as plain JSON-ready dicts (``{"data": [...], "layout": {...}}``) so the FastAPI app can return
them and the pages draw them with ``Plotly.newPlot``; the report embeds the same dicts.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

__all__ = [
    "ACTUAL_COLOR",
    "item_figure",
    "item_trace_count",
    "category_figure",
    "country_figure",
    "leaderboard_figure",
    "trend_strength_figure",
    "anomaly_figure",
    "segment_figure",
    "propensity_histogram_figure",
    "propensity_segment_figure",
    "recommended_items_figure",
    "sparkline_svg",
]

ACTUAL_COLOR = "#1f2937"
FORECAST_COLOR = "#2563eb"
BACKTEST_COLORS = ("#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#06b6d4", "#84cc16")


def _as_dict(figure: Any) -> dict[str, Any]:
    """Plotly figure -> JSON-ready dict (dates and numpy values serialised the way plotly.js expects)."""
    return json.loads(figure.to_json())


def _dates(values: Any) -> list[str]:
    """ISO dates as a plain list (readable JSON, unlike plotly's base64 typed arrays)."""
    return [f"{d:%Y-%m-%d}" for d in pd.to_datetime(pd.Series(values))]


def _values(values: Any) -> list[float | None]:
    """Numbers as a plain list; missing values as None."""
    return [None if pd.isna(v) else float(v) for v in values]


def _time_layout(title: str, *, rangeslider: bool = True) -> dict[str, Any]:
    xaxis: dict[str, Any] = {"type": "date"}
    if rangeslider:
        xaxis["rangeslider"] = {"visible": True, "thickness": 0.08}
        xaxis["rangeselector"] = {
            "buttons": [
                {"count": 3, "label": "3m", "step": "month", "stepmode": "backward"},
                {"count": 6, "label": "6m", "step": "month", "stepmode": "backward"},
                {"count": 1, "label": "1y", "step": "year", "stepmode": "backward"},
                {"step": "all", "label": "all"},
            ]
        }
    return {
        "title": {"text": title},
        "xaxis": xaxis,
        "yaxis": {"title": {"text": "units"}, "rangemode": "tozero"},
        "hovermode": "x unified",
        "margin": {"l": 50, "r": 20, "t": 50, "b": 30},
        "legend": {"orientation": "v", "x": 1.01, "y": 1, "font": {"size": 11}},
        "height": 480,
        "template": "plotly_white",
    }


def _band(go: Any, x: Any, lower: Any, upper: Any, name: str, color: str) -> list[Any]:
    """Two traces: the invisible lower bound, then the upper bound filled down to it."""
    return [
        go.Scatter(
            x=x,
            y=_values(lower),
            mode="lines",
            line={"width": 0},
            showlegend=False,
            name=f"{name} lower",
            legendgroup=name,
            hovertemplate="%{y:.1f}",
        ),
        go.Scatter(
            x=x,
            y=_values(upper),
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=color,
            name=name,
            legendgroup=name,
            hovertemplate="%{y:.1f}",
        ),
    ]


def _actual_trace(go: Any, actuals: pd.DataFrame) -> Any:
    """Actual daily units (``sale_date``, ``units_sold``) as a line."""
    return go.Scatter(
        x=_dates(actuals["sale_date"]),
        y=_values(actuals["units_sold"]),
        mode="lines",
        name="actual units",
        line={"color": ACTUAL_COLOR, "width": 1.5},
        hovertemplate="%{y:.0f}",
    )


def _forecast_trace(go: Any, forecast: pd.DataFrame, name: str) -> Any:
    """Point forecasts (``target_date``, ``units_forecast``) as a bold line."""
    return go.Scatter(
        x=_dates(forecast["target_date"]),
        y=_values(forecast["units_forecast"]),
        mode="lines",
        name=name,
        line={"color": FORECAST_COLOR, "width": 2.5},
        hovertemplate="%{y:.1f}",
    )


def item_trace_count(has_forecast: bool, n_cutoffs: int) -> int:
    """Traces of :func:`item_figure`: actuals, plus 95 % band (2), 80 % band (2) and point forecast, plus one
    trace per backtest cutoff."""
    return 1 + (5 if has_forecast else 0) + n_cutoffs


def item_figure(
    title: str, actuals: pd.DataFrame, forecast: pd.DataFrame, backtests: pd.DataFrame, backtest_model: str | None
) -> dict[str, Any]:
    """Actual daily units, the latest forecast with 80 % / 95 % bands and past backtest forecasts per cutoff."""
    import plotly.graph_objects as go

    traces: list[Any] = []
    if len(forecast):
        x = _dates(forecast["target_date"])
        traces += _band(
            go, x, forecast["units_lower_95"], forecast["units_upper_95"], "95 % interval", "rgba(37, 99, 235, 0.12)"
        )
        traces += _band(
            go, x, forecast["units_lower_80"], forecast["units_upper_80"], "80 % interval", "rgba(37, 99, 235, 0.25)"
        )
    traces.append(_actual_trace(go, actuals))
    if len(forecast):
        version = f"{forecast['model_name'].iat[0]} v{forecast['model_version'].iat[0]}"
        traces.append(_forecast_trace(go, forecast, f"forecast ({version})"))
    if len(backtests):
        for k, (cutoff, part) in enumerate(backtests.groupby("cutoff", sort=True)):
            traces.append(
                go.Scatter(
                    x=_dates(part["target_date"]),
                    y=_values(part["y_hat"]),
                    mode="lines",
                    name=f"backtest {pd.Timestamp(cutoff):%Y-%m-%d} ({backtest_model})",
                    line={"color": BACKTEST_COLORS[k % len(BACKTEST_COLORS)], "width": 1.5, "dash": "dot"},
                    hovertemplate="%{y:.1f}",
                )
            )
    layout = _time_layout(title)
    last = pd.to_datetime(forecast["target_date"]).max() if len(forecast) else None
    if last is None and len(actuals):
        last = pd.to_datetime(actuals["sale_date"]).max()
    if last is not None:
        layout["xaxis"]["range"] = [
            f"{last - pd.Timedelta(days=180):%Y-%m-%d}",
            f"{last + pd.Timedelta(days=1):%Y-%m-%d}",
        ]
    return _as_dict(go.Figure(data=traces, layout=layout))


def category_figure(title: str, actuals: pd.DataFrame, forecast: pd.DataFrame) -> dict[str, Any]:
    """Daily units of a category and the sum of its items' latest point forecasts."""
    import plotly.graph_objects as go

    traces = [_actual_trace(go, actuals)]
    if len(forecast):
        traces.append(_forecast_trace(go, forecast, "forecast (sum of item points)"))
    return _as_dict(go.Figure(data=traces, layout=_time_layout(title)))


def country_figure(title: str, actuals: pd.DataFrame) -> dict[str, Any]:
    """Actual daily units of a country (one trace; no forecasts exist per country)."""
    import plotly.graph_objects as go

    return _as_dict(go.Figure(data=[_actual_trace(go, actuals)], layout=_time_layout(title)))


def leaderboard_figure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """WRMSSE per model (lower is better), the champion highlighted."""
    import plotly.graph_objects as go

    models = [r["model"] for r in rows]
    colors = ["#16a34a" if r["is_champion"] else ("#2563eb" if r["is_candidate"] else "#9ca3af") for r in rows]
    bias = [r["bias"] for r in rows]
    figure = go.Figure(
        data=[
            go.Bar(
                x=models,
                y=[r["wrmsse"] for r in rows],
                marker_color=colors,
                name="WRMSSE",
                customdata=bias,
                hovertemplate="%{x}: WRMSSE %{y:.3f}, bias %{customdata:.2f}<extra></extra>",
            )
        ],
        layout={
            "title": {"text": "Backtest WRMSSE (lower is better; green: champion)"},
            "height": 320,
            "margin": {"l": 50, "r": 20, "t": 50, "b": 60},
            "template": "plotly_white",
        },
    )
    return _as_dict(figure)


def trend_strength_figure(rising: list[dict[str, Any]], falling: list[dict[str, Any]], level: str) -> dict[str, Any]:
    """Horizontal bars of trend strength (relative change per 28 days), rising and falling."""
    import plotly.graph_objects as go

    def label(row: dict[str, Any]) -> str:
        desc = row.get("item_description")
        return f"{row['entity_id']} {desc[:28]}" if level == "item" and desc else str(row["entity_id"])

    traces = []
    for name, rows, color in (("rising", rising, "#16a34a"), ("falling", falling, "#dc2626")):
        traces.append(
            go.Bar(
                y=[label(r) for r in rows],
                x=[r["strength"] for r in rows],
                orientation="h",
                name=name,
                marker_color=color,
                hovertemplate="%{y}: %{x:.0%} per 28 days<extra></extra>",
            )
        )
    figure = go.Figure(
        data=traces,
        layout={
            "title": {"text": f"Strongest {level} trends (relative change per 28 days)"},
            "height": 120 + 24 * max(1, len(rising) + len(falling)),
            "barmode": "relative",
            "xaxis": {"tickformat": ".0%"},
            "yaxis": {"automargin": True},
            "margin": {"l": 20, "r": 20, "t": 50, "b": 30},
            "template": "plotly_white",
        },
    )
    return _as_dict(figure)


def anomaly_figure(shop: pd.DataFrame, anomaly_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Daily units of the shop with the detected shop-level anomalies marked."""
    import plotly.graph_objects as go

    marks = [r for r in anomaly_rows if r["level"] != "item"]
    traces = [
        go.Scatter(
            x=_dates(shop["sale_date"]),
            y=_values(shop["units_sold"]),
            mode="lines",
            name="shop units",
            line={"color": ACTUAL_COLOR, "width": 1.5},
            hovertemplate="%{y:.0f}",
        ),
        go.Scatter(
            x=[r["sale_date"] for r in marks],
            y=[r["units"] for r in marks],
            mode="markers",
            name="anomalous shop-days",
            marker={"color": "#dc2626", "size": 10, "symbol": "x"},
            customdata=[r["robust_z"] for r in marks],
            hovertemplate="%{y:.0f} (robust z %{customdata:.1f})",
        ),
    ]
    return _as_dict(go.Figure(data=traces, layout=_time_layout("Shop units per day and anomalies")))


def segment_figure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Customers per segment."""
    import plotly.graph_objects as go

    figure = go.Figure(
        data=[go.Bar(x=[r["segment"] for r in rows], y=[r["customers"] for r in rows], marker_color="#2563eb")],
        layout={"title": {"text": "Customers per segment"}, "height": 320, "template": "plotly_white"},
    )
    return _as_dict(figure)


def propensity_histogram_figure(bins: list[dict[str, Any]], threshold: float = 0.5) -> dict[str, Any]:
    """Customers per purchase-probability bin; bins above ``threshold`` highlighted."""
    import plotly.graph_objects as go

    figure = go.Figure(
        data=[
            go.Bar(
                x=[(b["low"] + b["high"]) / 2 for b in bins],
                y=[b["customers"] for b in bins],
                width=[b["high"] - b["low"] for b in bins],
                customdata=[[b["low"], b["high"]] for b in bins],
                marker_color=["#16a34a" if b["low"] >= threshold else "#2563eb" for b in bins],
                marker_line={"color": "#ffffff", "width": 1},
                name="customers",
                hovertemplate="p %{customdata[0]:.2f}-%{customdata[1]:.2f}: %{y} customers<extra></extra>",
            )
        ],
        layout={
            "title": {"text": f"Customers by purchase probability (green: above {threshold:g})"},
            "xaxis": {"title": {"text": "purchase probability"}, "range": [0, 1], "tickformat": ".0%"},
            "yaxis": {"title": {"text": "customers"}},
            "height": 360,
            "bargap": 0,
            "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
            "template": "plotly_white",
        },
    )
    return _as_dict(figure)


def propensity_segment_figure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean purchase probability per customer segment."""
    import plotly.graph_objects as go

    figure = go.Figure(
        data=[
            go.Bar(
                x=[r["segment"] for r in rows],
                y=[r["mean_probability"] for r in rows],
                customdata=[r["customers"] for r in rows],
                marker_color="#2563eb",
                name="mean probability",
                hovertemplate="%{x}: mean %{y:.1%} over %{customdata} customers<extra></extra>",
            )
        ],
        layout={
            "title": {"text": "Mean purchase probability per segment"},
            "yaxis": {"tickformat": ".0%", "range": [0, 1]},
            "height": 360,
            "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
            "template": "plotly_white",
        },
    )
    return _as_dict(figure)


def recommended_items_figure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Horizontal bars: in how many customers' top-10 lists each item is, most recommended on top."""
    import plotly.graph_objects as go

    labels = [f"{r['item_id']} {(r['description'] or '')[:36]}" for r in rows]
    figure = go.Figure(
        data=[
            go.Bar(
                y=labels[::-1],
                x=[r["customers"] for r in rows][::-1],
                orientation="h",
                marker_color="#2563eb",
                name="customers",
                hovertemplate="%{y}: in %{x} customers' top 10<extra></extra>",
            )
        ],
        layout={
            "title": {"text": "Most recommended items (customers with the item in their top 10)"},
            "height": 120 + 22 * max(1, len(rows)),
            "yaxis": {"automargin": True},
            "margin": {"l": 20, "r": 20, "t": 50, "b": 30},
            "template": "plotly_white",
        },
    )
    return _as_dict(figure)


def sparkline_svg(values: list[float], *, width: int = 120, height: int = 28, color: str = "#2563eb") -> str:
    """A tiny inline SVG line of ``values`` (no script, so it renders in the offline report too)."""
    if not values:
        return ""
    top = max(values) or 1.0
    step = width / max(1, len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values))
    return (
        f'<svg class="sparkline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/></svg>'
    )
