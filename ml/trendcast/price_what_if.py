"""What a price change does to demand: the latest forecasts scaled by the estimated elasticity.

Expected units over the forecast horizon are the latest ``forecasts.item_daily_forecast`` point forecasts of the
category's items (or of one item) times ``(1 + dp) ** elasticity``; revenue is units times the item's latest
shelf price times ``(1 + dp)``. The demand models carry no price, so the price effect comes from
``scores.category_price_elasticity`` (or ``scores.item_price_elasticity`` for an item that has its own estimate)
of the latest scoring date. The interval is the elasticity's 95 % interval pushed through the same formula;
forecast uncertainty is not added to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast.elasticity import CATEGORY_ELASTICITY_TABLE, ITEM_ELASTICITY_TABLE
from trendcast.exceptions import ConfigError, ModelNotFoundError, UnknownNameError
from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect, table_exists

__all__ = ["PriceWhatIf", "parse_price_change", "price_what_if"]


@dataclass(frozen=True)
class PriceWhatIf:
    """Units and revenue over the horizon at today's price (base) and after the change (with 95 % bounds)."""

    target: str
    price_change: float
    elasticity: float
    elasticity_lo_95: float
    elasticity_hi_95: float
    elasticity_source: str
    forecast_date: dt.date
    horizon_days: int
    n_items: int
    units_base: float
    units: float
    units_lo: float
    units_hi: float
    revenue_base: float
    revenue: float
    revenue_lo: float
    revenue_hi: float


def parse_price_change(text: str) -> float:
    """``"-10%"`` -> -0.10 and ``"-0.1"`` -> -0.10; a change of -100 % or less is refused."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"price change must look like -10% or -0.1, got {text!r}") from None
    if value <= -1:
        raise ConfigError(f"price change must be above -100%, got {value:+.0%}")
    return value


def _latest_elasticity(conn: Connection, table: str, key: str, value: str) -> pd.Series | None:
    query = sa.text(
        f"select elasticity, elasticity_lo_95, elasticity_hi_95 from scores.{table} "
        f"where {key} = :value and scoring_date = (select max(scoring_date) from scores.{table})"
    )
    rows = pd.read_sql(query, conn, params={"value": value})
    return None if rows.empty else rows.iloc[0]


def _elasticity(conn: Connection, category: str | None, item_id: str | None) -> tuple[str, pd.Series, str]:
    """(category, estimate, source) for the target; item estimates win over their category's."""
    if not table_exists(conn, "scores", CATEGORY_ELASTICITY_TABLE.name):
        raise ModelNotFoundError("no price elasticities yet: run `trendcast elasticity estimate` first")
    if item_id is not None:
        found = conn.execute(
            sa.text("select max(category) from marts.ml_item_daily_sales where item_id = :item"), {"item": item_id}
        ).scalar()
        if found is None:
            raise UnknownNameError(f"unknown item {item_id!r} (not in marts.ml_item_daily_sales)")
        category = str(found)
        if table_exists(conn, "scores", ITEM_ELASTICITY_TABLE.name):
            own = _latest_elasticity(conn, ITEM_ELASTICITY_TABLE.name, "item_id", item_id)
            if own is not None:
                return category, own, f"item {item_id}"
    assert category is not None
    estimate = _latest_elasticity(conn, CATEGORY_ELASTICITY_TABLE.name, "category", category)
    if estimate is None:
        known = conn.execute(
            sa.text(f"select distinct category from scores.{CATEGORY_ELASTICITY_TABLE.name} order by category")
        ).scalars()
        raise UnknownNameError(f"no elasticity for category {category!r} (estimated: {', '.join(known)})")
    return category, estimate, f"category {category}"


def _forecast(conn: Connection, category: str, item_id: str | None) -> pd.DataFrame:
    """Per item: horizon units of the latest forecast date and the latest shelf price."""
    if not table_exists(conn, "forecasts", "item_daily_forecast"):
        raise ModelNotFoundError("no forecasts: run `trendcast forecast` first")
    where = "f.item_id = :item" if item_id is not None else "p.category = :category"
    query = sa.text(
        "with latest as (select max(forecast_date) as forecast_date from forecasts.item_daily_forecast), "
        "prices as (select item_id, category, price from ("
        "  select item_id, category, price, row_number() over (partition by item_id order by sale_date desc) as rn"
        "  from marts.ml_item_daily_sales) as ranked where rn = 1) "
        "select f.item_id, f.forecast_date, max(f.horizon) as horizon_days, sum(f.y_hat) as units, "
        "max(p.price) as price "
        "from forecasts.item_daily_forecast as f join latest on f.forecast_date = latest.forecast_date "
        f"join prices as p on p.item_id = f.item_id where {where} group by f.item_id, f.forecast_date"
    )
    rows = pd.read_sql(query, conn, params={"item": item_id, "category": category})
    if rows.empty:
        raise ModelNotFoundError(f"no forecasts for {'item ' + item_id if item_id else 'category ' + category}")
    return rows


def price_what_if(
    price_change: float,
    *,
    category: str | None = None,
    item_id: str | None = None,
    settings: Settings | None = None,
) -> PriceWhatIf:
    """Expected units and revenue over the latest forecast's horizon after a relative price change."""
    if (category is None) == (item_id is None):
        raise ConfigError("give exactly one of a category or an item")
    if price_change <= -1:
        raise ConfigError(f"price change must be above -100%, got {price_change:+.0%}")
    with connect(settings or get_settings()) as conn:
        category, estimate, source = _elasticity(conn, category, item_id)
        rows = _forecast(conn, category, item_id)
    factor = 1.0 + price_change
    e, e_lo, e_hi = (float(estimate[c]) for c in ("elasticity", "elasticity_lo_95", "elasticity_hi_95"))
    units_base = float(rows["units"].sum())
    revenue_base = float((rows["units"] * rows["price"]).sum())
    bounds = sorted((factor**e_lo, factor**e_hi))
    return PriceWhatIf(
        target=f"item {item_id}" if item_id is not None else f"category {category}",
        price_change=price_change,
        elasticity=e,
        elasticity_lo_95=e_lo,
        elasticity_hi_95=e_hi,
        elasticity_source=source,
        forecast_date=pd.Timestamp(rows["forecast_date"].iloc[0]).date(),
        horizon_days=int(rows["horizon_days"].max()),
        n_items=len(rows),
        units_base=units_base,
        units=units_base * factor**e,
        units_lo=units_base * bounds[0],
        units_hi=units_base * bounds[1],
        revenue_base=revenue_base,
        revenue=revenue_base * factor ** (1 + e),
        revenue_lo=revenue_base * factor * bounds[0],
        revenue_hi=revenue_base * factor * bounds[1],
    )
