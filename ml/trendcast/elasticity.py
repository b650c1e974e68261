"""Own-price elasticity of demand per category and per item, from marts.ml_item_daily_sales.

Model: a Poisson GLM (log link) of daily units on log shelf price, so ``log E[units]`` is linear in
``log price`` (a log-log demand curve) and zero-unit days count as what they are, without the selection bias of
a log-OLS restricted to days with sales. Controls: item fixed effects (pooled category fit), day of week, UK
bank holiday, a linear trend (years) and the log of the shop's units that day (the demand index: yearly season,
December ramp and growth). The mart carries **no promotion flag**, so promotions are not controlled for.

The shelf price of a day is the price carried forward from the item's previous day (``price`` lagged one day):
the mart's same-day price is revenue / units, which quantity-tier discounts (Online Retail II) tie to that
day's units. Rows: shop-open days (shop units > 0) between an item's first and last sale.

An item identifies an elasticity when at least ``min_varied_days`` of its days are priced at least
``min_log_price_gap`` (in log) away from its median price and as many are at the median; a per-item fit also
needs ``min_item_days`` days. A category's pooled fit uses its ``max_items_per_category`` best-selling identifying
items (the item dummies of a pooled fit grow with the items; item-level fits cover the rest). Errors:
cluster-robust by item when a category has ``min_clusters`` items, else heteroskedasticity-robust (HC1);
intervals are 95 % Wald intervals.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trendcast.behaviour.scores import ScoreTable, write_scores
from trendcast.exceptions import DataValidationError, SchemaContractError
from trendcast.settings import Settings, get_settings

__all__ = [
    "ElasticityParams",
    "CATEGORY_ELASTICITY_TABLE",
    "ITEM_ELASTICITY_TABLE",
    "REQUIRED_COLUMNS",
    "prepare_panel",
    "identifying_items",
    "fit_elasticity",
    "estimate_elasticities",
    "run_elasticity",
]

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("item_id", "sale_date", "units_sold", "price", "category", "day_of_week", "is_uk_bank_holiday")
Z_95 = 1.959963984540054

_RESULT = {
    "elasticity": "double precision not null",
    "elasticity_lo_95": "double precision not null",
    "elasticity_hi_95": "double precision not null",
    "std_error": "double precision not null",
    "n_items": "integer not null",
    "n_observations": "integer not null",
    "cov_type": "varchar not null",
    "written_at": "timestamp not null",
}
CATEGORY_ELASTICITY_TABLE = ScoreTable(
    name="category_price_elasticity",
    columns={"scoring_date": "date not null", "category": "varchar not null", **_RESULT},
    primary_key=("scoring_date", "category"),
)
ITEM_ELASTICITY_TABLE = ScoreTable(
    name="item_price_elasticity",
    columns={"scoring_date": "date not null", "item_id": "varchar not null", "category": "varchar not null", **_RESULT},
    primary_key=("scoring_date", "item_id"),
)


@dataclass(frozen=True)
class ElasticityParams:
    """Data minimums (see the module docstring)."""

    min_log_price_gap: float = 0.05
    min_varied_days: int = 28
    min_item_days: int = 120
    min_clusters: int = 20
    max_items_per_category: int = 200


def prepare_panel(frame: pd.DataFrame) -> pd.DataFrame:
    """Model rows from mart rows: lagged shelf price, shop demand index, trend; a new frame."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SchemaContractError(f"item-day frame lacks columns {', '.join(missing)}")
    df = frame[list(REQUIRED_COLUMNS)].copy()
    df["sale_date"] = pd.to_datetime(df["sale_date"])
    df = df.sort_values(["item_id", "sale_date"], kind="stable")
    df["shelf_price"] = df.groupby("item_id")["price"].shift(1)
    shop = df.groupby("sale_date")["units_sold"].transform("sum")
    sold = df["units_sold"] > 0
    first = df["sale_date"].where(sold).groupby(df["item_id"]).transform("min")
    last = df["sale_date"].where(sold).groupby(df["item_id"]).transform("max")
    keep = (shop > 0) & (df["sale_date"] > first) & (df["sale_date"] <= last) & (df["shelf_price"] > 0)
    df = df[keep].assign(log_shop_units=np.log(shop[keep].astype(float)))
    df["log_price"] = np.log(df["shelf_price"].astype(float))
    df["trend_years"] = (df["sale_date"] - df["sale_date"].min()).dt.days / 365.25
    df["is_uk_bank_holiday"] = df["is_uk_bank_holiday"].astype(float)
    return df.reset_index(drop=True)


def identifying_items(panel: pd.DataFrame, params: ElasticityParams) -> pd.Index:
    """Items whose own price varies enough to identify an elasticity."""
    gap = (panel["log_price"] - panel.groupby("item_id")["log_price"].transform("median")).abs()
    varied = (gap >= params.min_log_price_gap).groupby(panel["item_id"]).agg(["sum", "size"])
    ok = (varied["sum"] >= params.min_varied_days) & (varied["size"] - varied["sum"] >= params.min_varied_days)
    return varied.index[ok]


def fit_elasticity(panel: pd.DataFrame, params: ElasticityParams) -> dict[str, float | int | str]:
    """Poisson GLM of units on log shelf price and controls (item fixed effects when several items)."""
    import statsmodels.api as sm

    items = panel["item_id"].astype(str)
    parts = [
        panel[["log_price", "log_shop_units", "trend_years", "is_uk_bank_holiday"]].astype(float),
        pd.get_dummies(panel["day_of_week"].astype(int), prefix="dow", drop_first=True, dtype=float),
        pd.get_dummies(items, prefix="item", drop_first=True, dtype=float),
    ]
    x = sm.add_constant(pd.concat(parts, axis=1), has_constant="add")
    x = x.loc[:, (x.std() > 0) | (x.columns == "const")]
    n_items = int(items.nunique())
    model = sm.GLM(panel["units_sold"].astype(float), x, family=sm.families.Poisson())
    if n_items >= params.min_clusters:
        cov_type, fit = "cluster", model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(items)[0]})
    else:
        cov_type, fit = "HC1", model.fit(cov_type="HC1")
    beta, se = float(fit.params["log_price"]), float(fit.bse["log_price"])
    return {
        "elasticity": beta,
        "elasticity_lo_95": beta - Z_95 * se,
        "elasticity_hi_95": beta + Z_95 * se,
        "std_error": se,
        "n_items": n_items,
        "n_observations": len(panel),
        "cov_type": cov_type,
    }


def estimate_elasticities(
    frame: pd.DataFrame, params: ElasticityParams | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Category and item elasticities from mart rows (categories / items without price variation are left out)."""
    params = params or ElasticityParams()
    panel = prepare_panel(frame)
    usable = panel[panel["item_id"].isin(identifying_items(panel, params))]
    units = usable.groupby(["category", "item_id"])["units_sold"].sum().sort_values(ascending=False, kind="stable")
    pooled = units.groupby(level="category").head(params.max_items_per_category).index.get_level_values("item_id")
    categories = [
        {"category": c, **fit_elasticity(g, params)}
        for c, g in usable[usable["item_id"].isin(pooled)].groupby("category", sort=True)
    ]
    items = [
        {"item_id": i, "category": g["category"].iloc[0], **fit_elasticity(g, params)}
        for i, g in usable.groupby("item_id", sort=True)
        if len(g) >= params.min_item_days
    ]
    log.info("elasticities for %d categories and %d items", len(categories), len(items))
    category_columns = ["category", *_RESULT][:-1]
    item_columns = ["item_id", "category", *_RESULT][:-1]
    return pd.DataFrame(categories, columns=category_columns), pd.DataFrame(items, columns=item_columns)


@dataclass(frozen=True)
class ElasticityReport:
    scoring_date: dt.date
    categories: pd.DataFrame
    items: pd.DataFrame


def run_elasticity(settings: Settings | None = None) -> ElasticityReport:
    """Estimate from marts.ml_item_daily_sales and replace the data cutoff's rows of both scores tables."""
    import sqlalchemy as sa

    from trendcast.warehouse import connect, table_exists

    settings = settings or get_settings()
    with connect(settings) as conn:
        if not table_exists(conn, "marts", "ml_item_daily_sales"):
            raise SchemaContractError("marts.ml_item_daily_sales does not exist: run `trendcast build` first")
        columns = ", ".join(REQUIRED_COLUMNS)
        frame = pd.read_sql(sa.text(f"select {columns} from marts.ml_item_daily_sales"), conn)
    if frame.empty:
        raise DataValidationError("marts.ml_item_daily_sales is empty: nothing to estimate")
    categories, items = estimate_elasticities(frame)
    if categories.empty:
        raise DataValidationError("no item's price varies enough to estimate an elasticity")
    scoring_date = pd.Timestamp(frame["sale_date"].max()).date()
    write_scores(categories, CATEGORY_ELASTICITY_TABLE, scoring_date=scoring_date, settings=settings)
    write_scores(items, ITEM_ELASTICITY_TABLE, scoring_date=scoring_date, settings=settings)
    return ElasticityReport(scoring_date, categories, items)
