"""Trend signals per item and per category: direction, strength and confidence, written to ``trends.*``.

A trend here is a change of an entity's demand **relative to the rest of the shop**: shop-wide movements
(weekday pattern, closed days and holidays, the yearly season, the December ramp, a shop that grows as a
whole) lift every item alike and are not an item's trend. This is how demand is built (an item's sales are
its share of the shop's sales, see docs/generator.md) and what an analyst asks ("which items gain ground?").

Method, vectorised over entities:

* **window** — the last ``window_days // 7`` whole weeks up to ``as_of`` (default 16). Missing days count as
  zero sales; days before an entity's first row (a launch inside the window) and days on which the rest of
  the shop sold nothing (closed days) are left out.
* **model** — a log-linear rate model per entity, ``E[y_d] = exp(a + b t_d) * rest_d``, where ``rest_d`` is
  what the rest of the entity's reference group (below) sold on day d (exposure / offset) and ``t_d`` is in
  weeks: ``b`` is the entity's log growth per week beyond its reference's. Fitted by Poisson maximum
  likelihood (Newton steps), a quasi-Poisson GLM.
* **significance** — Wald test of ``b = 0`` with the quasi-Poisson dispersion (Pearson chi-square / (n - 2),
  at least 1; retail units are strongly overdispersed) against Student's t with n - 2 degrees of freedom.
  When the history carries an order count column (``n_orders``: orders per item and day) the test runs on
  it instead of units: a wholesaler's single 500-unit order is one event, not 500, so the test is far less
  noisy while testing the same share. Only observed history enters the test: a forecast is a model's
  extrapolation, not evidence.
* **strength** — ``exp(4 b) - 1``: relative change per 28 days against the reference, from units, fitted on the
  window plus the next 28 forecast days when a forecast is given (the forecast's rest of the shop as
  exposure). 0.25 means "+25 % per 4 weeks faster than the reference". ``slope_units_per_week`` is ``b`` times
  the entity's mean weekly units in the window.
* **confidence** = ``(1 - p) * activity``; activity = ``min(1, selling days / (MIN_ACTIVE_SHARE * days))``
  times the share of the window observed, so sparse or just-launched entities get low confidence.
* **direction** — ``rising`` when the history's strength >= :data:`MIN_STRENGTH`, confidence >=
  :data:`MIN_CONFIDENCE`, and the tested slope and the reported strength (with forecast) are positive;
  ``falling`` symmetrically; otherwise ``stable``. Rising and falling use the same bar. The forecast moves
  the strength, not the call: a tree model cannot extrapolate and flattens every trend (measured on the
  seed-42 October shop: XGBoost's forecast took the rising cohort's median strength from 0.32 to 0.20).

Items are compared with the rest of their own category (a christmas item with christmas items, so the
category's season is not read as the item's trend); categories are compared with the rest of the shop,
centred on the median category (so one surging category, christmas in November, does not make every other
category "fall"). Together: the category row says whether the category gains on the shop, the item row
whether the item gains within its category.

Measured on generated shops (docs/generator.md: 5 % of items x4 and 5 % x0.25 of their share over the last
120 days; 300 items, 730 days unless noted; as_of = last sale day; history with n_orders, 16-week window).
P = precision, R = recall against the manifest's cohorts (15 up, 15 down):

    seed  as_of       rising n  P     R     falling n  P     R     categories not stable
    42    2024-12-23  15        1.00  1.00  15         0.87  0.87  christmas +, garden -
    7     2024-12-23  15        1.00  1.00  10         0.90  0.60  christmas +, garden -
    11    2024-12-23  15        0.87  0.87  12         0.92  0.73  christmas +, garden -, bags -
    42    2024-06-24  14        1.00  0.93   8         1.00  0.53  none (540 days)
    7     2024-09-22  14        1.00  0.93  12         1.00  0.80  garden - (630 days)
    42    2024-10-07  14        0.93  0.87  12         0.83  0.67  christmas +, garden - (400 days)
    7     2024-10-07  15        1.00  1.00  11         0.91  0.67  christmas +, garden - (400 days)

Falling recall trails rising by design of the data, not of the test: a falling item ends at a quarter of its
sales, so the window holds fewer orders to test. Units alone (no n_orders) give rising P 0.86-1.00 /
R 0.40-1.00 and falling P 0.41-1.00 / R 0.27-0.67 on the same shops. Windows of 8 and 12 weeks found
20-60 % of the falling cohort. On a small shop (80 items, 4 per cohort) about 3 of 4 are found each way.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast import warehouse
from trendcast.exceptions import SchemaContractError
from trendcast.settings import Settings, get_settings

__all__ = [
    "MIN_STRENGTH",
    "MIN_CONFIDENCE",
    "MIN_ACTIVE_SHARE",
    "WINDOW_DAYS",
    "ORDERS_COL",
    "SIGNAL_COLUMNS",
    "RateTrend",
    "fit_rate_trends",
    "compute_trend_signals",
    "ensure_trend_tables",
    "write_trend_signals",
]

log = logging.getLogger(__name__)

#: |relative change per 28 days against the shop| an entity needs to be called rising / falling (10 %).
MIN_STRENGTH = 0.10
#: Confidence needed for rising / falling: p <= 0.01 for an entity selling on enough days.
MIN_CONFIDENCE = 0.99
#: Entities selling on fewer than this share of the window's days get proportionally less confidence.
MIN_ACTIVE_SHARE = 0.25
#: Default history window (16 weeks): a steady trend of a mid or slow seller needs this long to reach p <= 0.01.
WINDOW_DAYS = 112
#: Days summed into ``recent_units`` (the last days up to as_of) and ``forecast_units`` (the next days).
COMPARE_DAYS = 28
#: Items are compared with the rest of their category when it has at least this many items, else the shop.
MIN_CATEGORY_ITEMS = 5
#: Optional history column with orders per entity and day, used for the significance test when present.
ORDERS_COL = "n_orders"
#: Bound on |b| (log growth per week) so entities that stop or start selling inside the window stay finite.
_MAX_LOG_SLOPE = 1.0

SCHEMA = "trends"
TABLE = "item_trend_signals"
#: Column name -> SQL type valid on DuckDB and PostgreSQL, in table order.
SIGNAL_COLUMNS: dict[str, str] = {
    "as_of": "date not null",
    "level": "varchar not null",
    "entity_id": "varchar not null",
    "direction": "varchar not null",
    "strength": "double precision not null",
    "confidence": "double precision not null",
    "p_value": "double precision not null",
    "slope_units_per_week": "double precision not null",
    "recent_units": "double precision not null",
    "forecast_units": "double precision",
    "n_items": "integer not null",
    "window_days": "integer not null",
    "written_at": "timestamp not null",
}
_PRIMARY_KEY = ("as_of", "level", "entity_id")


# ------------------------------------------------------------------------------------------------- maths


class RateTrend:
    """Per-entity fit of ``E[y] = exp(a + b t) * exposure``: slope ``b``, its Wald ``z``, two-sided ``p``."""

    def __init__(self, slope: np.ndarray, z: np.ndarray, p: np.ndarray, n: np.ndarray) -> None:
        self.slope, self.z, self.p, self.n = slope, z, p, n


def fit_rate_trends(
    y: np.ndarray, exposure: np.ndarray, t: np.ndarray, *, iterations: int = 30, dispersion: bool = True
) -> RateTrend:
    """Quasi-Poisson log-linear trend per row of ``y`` (entities x days) with ``exposure`` as offset.

    Cells where ``y`` is NaN or ``exposure`` <= 0 are left out. ``t``: time of each column (weeks).
    With ``dispersion`` the Wald variance is scaled by max(1, Pearson chi-square / (n - 2)) and ``p`` comes
    from Student's t with n - 2 degrees of freedom; without, it is the plain Poisson z-test.
    """
    from scipy.stats import t as student_t

    use = np.isfinite(y) & np.isfinite(exposure) & (exposure > 0)
    yy = np.where(use, y, 0.0)
    offset = np.log(np.where(use, exposure, 1.0))
    tt = np.broadcast_to(t, y.shape)
    n = use.sum(axis=1).astype(float)
    total_y = yy.sum(axis=1)
    total_e = np.where(use, exposure, 0.0).sum(axis=1)
    fittable = (n >= 3) & (total_y > 0) & (total_e > 0)
    a = np.log(np.where(fittable, total_y, 1.0) / np.where(fittable, total_e, 1.0))
    b = np.zeros(y.shape[0])
    for _ in range(iterations):
        mu = np.where(use, np.exp(np.clip(a[:, None] + b[:, None] * tt + offset, -50, 50)), 0.0)
        resid = yy - mu
        g_a, g_b = resid.sum(axis=1), (resid * tt).sum(axis=1)
        h_aa, h_ab, h_bb = mu.sum(axis=1), (mu * tt).sum(axis=1), (mu * tt * tt).sum(axis=1)
        det = h_aa * h_bb - h_ab**2
        ok = fittable & (det > 1e-12)
        safe = np.where(ok, det, 1.0)
        step_a = np.where(ok, (h_bb * g_a - h_ab * g_b) / safe, 0.0)
        step_b = np.where(ok, (h_aa * g_b - h_ab * g_a) / safe, 0.0)
        b_new = np.clip(b + np.clip(step_b, -0.5, 0.5), -_MAX_LOG_SLOPE, _MAX_LOG_SLOPE)
        a, b = a + np.clip(step_a, -5, 5), b_new
    mu = np.where(use, np.exp(np.clip(a[:, None] + b[:, None] * tt + offset, -50, 50)), 0.0)
    h_aa, h_ab, h_bb = mu.sum(axis=1), (mu * tt).sum(axis=1), (mu * tt * tt).sum(axis=1)
    det = h_aa * h_bb - h_ab**2
    ok = fittable & (det > 1e-12) & (n > 2)
    var_b = np.where(ok, h_aa / np.where(ok, det, 1.0), np.inf)
    df = np.maximum(n - 2, 1.0)
    if dispersion:
        with np.errstate(divide="ignore", invalid="ignore"):
            pearson = np.where(use & (mu > 0), (yy - mu) ** 2 / np.where(mu > 0, mu, 1.0), 0.0).sum(axis=1)
        var_b = var_b * np.maximum(1.0, pearson / df)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(ok & np.isfinite(var_b), b / np.sqrt(var_b), 0.0)
    p = 2 * student_t.sf(np.abs(z), df) if dispersion else 2 * student_t.sf(np.abs(z), np.inf)
    slope = np.where(fittable, b, 0.0)
    return RateTrend(slope=slope, z=z, p=np.where(ok, p, 1.0), n=n)


# ----------------------------------------------------------------------------------------------- signals


def _daily_matrix(history: pd.DataFrame, start: pd.Timestamp, n_days: int, column: str) -> pd.DataFrame:
    """Entities x window days of ``column``, zeros where no row, NaN before each entity's first row."""
    first = history.groupby("unique_id", observed=True)["ds"].min()
    window = history[history["ds"] >= start]
    day = (window["ds"] - start).dt.days
    matrix = (
        window.assign(day=day)
        .pivot_table(index="unique_id", columns="day", values=column, aggfunc="sum", fill_value=0.0, observed=True)
        .reindex(index=first.index, columns=range(n_days), fill_value=0.0)
        .astype(float)
    )
    launched = ((first.reindex(matrix.index) - start).dt.days).to_numpy()
    before_launch = np.arange(n_days)[None, :] < launched[:, None]
    return matrix.mask(before_launch)


def _forecast_matrix(forecast: pd.DataFrame, as_of: pd.Timestamp, index: pd.Index) -> pd.DataFrame:
    """Entities x COMPARE_DAYS daily y_hat after as_of (NaN where the forecast has no row)."""
    days = (forecast["ds"] - as_of).dt.days
    part = forecast[(days >= 1) & (days <= COMPARE_DAYS)].assign(day=days - 1)
    matrix = part.pivot_table(index="unique_id", columns="day", values="y_hat", aggfunc="sum", observed=True)
    return matrix.reindex(index=index, columns=range(COMPARE_DAYS)).astype(float)


def _score(
    units: pd.DataFrame,
    orders: pd.DataFrame | None,
    fc: pd.DataFrame | None,
    group_units: np.ndarray,
    group_orders: np.ndarray | None,
    group_fc: np.ndarray | None,
    forecast_units: pd.Series,
    n_items: pd.Series,
    *,
    centre: bool = False,
) -> pd.DataFrame:
    """Signals for the entities (rows) of daily window matrices, each against the rest of its reference group.

    ``group_*``: per entity and day, the reference group's total *including* the entity (rows x days);
    the exposure is that total minus the entity. With ``centre`` the median slope of the entities is
    subtracted (the typical entity is the reference, so one surging entity cannot make the others fall).
    """
    values = units.to_numpy()
    n_entities, n_days = values.shape
    t = (np.arange(n_days) - (n_days - 1) / 2) / 7.0
    rest = group_units - np.nan_to_num(values)
    if orders is not None and group_orders is not None:
        counts = orders.to_numpy()
        test = fit_rate_trends(counts, group_orders - np.nan_to_num(counts), t)
    else:
        test = fit_rate_trends(values, rest, t)
    history_slope = fit_rate_trends(values, rest, t, dispersion=False).slope
    slope = history_slope
    if fc is not None and group_fc is not None:
        fc_values = fc.to_numpy()
        t_all = np.concatenate([t, t[-1] + np.arange(1, fc_values.shape[1] + 1) / 7.0])
        fc_rest = group_fc - np.nan_to_num(fc_values)
        extended = fit_rate_trends(np.hstack([values, fc_values]), np.hstack([rest, fc_rest]), t_all, dispersion=False)
        slope = np.where(np.isfinite(fc_values).any(axis=1), extended.slope, slope)
    test_slope, z = test.slope, test.z
    if centre and n_entities >= 3:
        fitted = test.p < 1
        se = np.divide(test.slope, z, out=np.full(n_entities, np.inf), where=z != 0)
        test_slope = test.slope - np.median(test.slope[fitted])
        z = np.where(np.isfinite(se), test_slope / se, 0.0)
        history_slope = history_slope - np.median(history_slope[fitted])
        slope = slope - np.median(slope[fitted])
    p = _two_sided_p(z, test.n) if centre else test.p
    strength = np.expm1(4.0 * slope)
    history_strength = np.expm1(4.0 * history_slope)

    observed = np.isfinite(values).mean(axis=1)
    weeks_observed = np.isfinite(values).sum(axis=1) / 7.0
    level = np.divide(np.nansum(values, axis=1), weeks_observed, out=np.zeros(n_entities), where=weeks_observed > 0)
    selling_days = (np.nan_to_num(values) > 0).sum(axis=1)
    activity = np.minimum(1.0, selling_days / (MIN_ACTIVE_SHARE * n_days)) * observed
    confidence = np.clip((1 - p) * activity, 0.0, 1.0)

    sure = confidence >= MIN_CONFIDENCE
    # Direction rests on the evidence (history); the forecast may weaken the reported strength (a model that
    # cannot extrapolate flattens every trend) but not flip its sign.
    rising = sure & (history_strength >= MIN_STRENGTH) & (test_slope > 0) & (strength > 0)
    falling = sure & (history_strength <= -MIN_STRENGTH) & (test_slope < 0) & (strength < 0)
    direction = np.where(rising, "rising", np.where(falling, "falling", "stable"))
    recent = np.nansum(values[:, -COMPARE_DAYS:], axis=1)
    return pd.DataFrame(
        {
            "entity_id": units.index.astype(str),
            "direction": direction,
            "strength": strength,
            "confidence": confidence,
            "p_value": p,
            "slope_units_per_week": slope * level,
            "recent_units": recent,
            "forecast_units": forecast_units.reindex(units.index).to_numpy(dtype=float),
            "n_items": n_items.reindex(units.index).to_numpy(dtype="int64"),
        }
    )


def _two_sided_p(z: np.ndarray, n: np.ndarray) -> np.ndarray:
    from scipy.stats import t as student_t

    return np.where(z != 0, 2 * student_t.sf(np.abs(z), np.maximum(n - 2, 1.0)), 1.0)


def _category_map(categories: pd.DataFrame) -> pd.Series:
    item_col = next((c for c in ("unique_id", "item_id", "stock_code") if c in categories.columns), None)
    if item_col is None or "category" not in categories.columns:
        raise SchemaContractError(
            f"categories needs unique_id (or item_id) and category columns; got {list(categories.columns)}"
        )
    mapping = categories.dropna(subset=["category"]).drop_duplicates(item_col)
    return pd.Series(mapping["category"].astype(str).to_numpy(), index=mapping[item_col].astype(str).to_numpy())


def _sum_by(matrix: pd.DataFrame, by: np.ndarray) -> pd.DataFrame:
    """Group rows by ``by``: zeros for members not launched yet; NaN where no member existed yet."""
    summed = matrix.fillna(0.0).groupby(by).sum()
    return summed.mask(matrix.notna().groupby(by).sum() == 0)


def compute_trend_signals(
    history: pd.DataFrame,
    forecast: pd.DataFrame | None,
    *,
    as_of: dt.date | str | pd.Timestamp,
    categories: pd.DataFrame | None = None,
    window_days: int = WINDOW_DAYS,
) -> pd.DataFrame:
    """Trend signals of every item with sales in the window (and of every category, given ``categories``).

    Args:
        history: Long daily units ``unique_id, ds, y`` of the whole shop (the rest of the shop is each
            entity's reference), optionally with ``n_orders``; days without a row count as zero.
        forecast: A Forecaster's output (``unique_id, ds, y_hat``) for the days after ``as_of``, or None.
        as_of: Last day of history used (rows after it are ignored).
        categories: ``unique_id`` (or ``item_id``) -> ``category``; items without one only get item rows.
        window_days: History window; whole weeks are used (``window_days // 7``, at least 3).

    Returns:
        One row per (level, entity_id): ``as_of, level ('item' | 'category'), entity_id, direction,
        strength, confidence, p_value, slope_units_per_week, recent_units (last 28 days), forecast_units
        (next 28 days; NaN without a forecast), n_items, window_days``.
    """
    missing = [c for c in ("unique_id", "ds", "y") if c not in history.columns]
    if missing:
        raise SchemaContractError(f"history lacks columns: {', '.join(missing)}")
    n_weeks = window_days // 7
    if n_weeks < 3:
        raise ValueError(f"window_days must cover at least 3 whole weeks, got {window_days}")
    as_of_ts = pd.Timestamp(as_of).normalize()
    n_days = 7 * n_weeks
    start = as_of_ts - pd.Timedelta(days=n_days - 1)

    has_orders = ORDERS_COL in history.columns
    hist = history[["unique_id", "ds", "y", *([ORDERS_COL] if has_orders else [])]].copy()
    hist["unique_id"] = hist["unique_id"].astype(str)
    hist["ds"] = pd.to_datetime(hist["ds"]).dt.normalize()
    hist = hist[hist["ds"] <= as_of_ts]
    fc = None
    if forecast is not None:
        fc = forecast[["unique_id", "ds", "y_hat"]].copy()
        fc["unique_id"] = fc["unique_id"].astype(str)
        fc["ds"] = pd.to_datetime(fc["ds"]).dt.normalize()

    units = _daily_matrix(hist, start, n_days, "y")
    orders = _daily_matrix(hist, start, n_days, ORDERS_COL) if has_orders else None
    fc_all = None if fc is None else _forecast_matrix(fc, as_of_ts, units.index)
    fc_units = pd.Series(np.nan, index=units.index) if fc_all is None else fc_all.sum(axis=1, min_count=1).astype(float)
    # Reference groups over every item of the history (not only the entities scored): an item's own
    # category when it has one with at least MIN_CATEGORY_ITEMS items (a christmas item is compared with
    # christmas items), else the whole shop; categories are compared with the shop.
    category = (
        pd.Series(np.nan, index=units.index, dtype=object)
        if categories is None
        else _category_map(categories).reindex(units.index)
    )
    size = category.map(category.value_counts())
    group = category.where(size >= MIN_CATEGORY_ITEMS, "\x00shop").to_numpy()

    def group_totals(matrix: pd.DataFrame | None) -> np.ndarray | None:
        if matrix is None:
            return None
        filled = matrix.fillna(0.0)
        return filled.groupby(group).transform("sum").to_numpy()

    def shop_totals(matrix: pd.DataFrame | None, rows: int) -> np.ndarray | None:
        return None if matrix is None else np.tile(matrix.fillna(0.0).sum(axis=0).to_numpy(), (rows, 1))

    g_units, g_orders, g_fc = group_totals(units), group_totals(orders), group_totals(fc_all)
    # Items with neither sales in the window nor forecast demand carry no signal worth a row.
    alive = ((units.fillna(0).sum(axis=1) > 0) | (fc_units.fillna(0) > 0)).to_numpy()
    parts = [
        _score(
            units[alive],
            None if orders is None else orders[alive],
            None if fc_all is None else fc_all[alive],
            g_units[alive],
            None if g_orders is None else g_orders[alive],
            None if g_fc is None else g_fc[alive],
            fc_units[alive],
            pd.Series(1, index=units.index[alive]),
        ).assign(level="item")
    ]

    member = (category.notna() & pd.Series(alive, index=units.index)).to_numpy()
    if member.any():
        by = category[member].to_numpy()
        cat_units = _sum_by(units[member], by)
        cat_orders = None if orders is None else _sum_by(orders[member], by)
        cat_fc = None
        if fc_all is not None:
            # A category's forecast day is known only when all its items have one.
            cat_fc = fc_all[member].groupby(by).sum().mask(fc_all[member].isna().groupby(by).any())
        n_items = pd.Series(by).value_counts()
        cat_fc_units = fc_units[member].groupby(by).sum(min_count=1)
        rows = len(cat_units)
        parts.append(
            _score(
                cat_units,
                cat_orders,
                cat_fc,
                shop_totals(units, rows),
                shop_totals(orders, rows),
                shop_totals(fc_all, rows),
                cat_fc_units,
                n_items,
                centre=True,
            ).assign(level="category")
        )

    signals = pd.concat(parts, ignore_index=True)
    signals.insert(0, "as_of", as_of_ts.date())
    signals["window_days"] = n_days
    ordered = ["as_of", "level", *[c for c in SIGNAL_COLUMNS if c not in ("as_of", "level", "written_at")]]
    signals = signals[ordered].sort_values(["level", "entity_id"], ascending=[False, True]).reset_index(drop=True)
    counts = signals.groupby(["level", "direction"]).size().to_dict()
    log.info("trend signals as of %s over %s days: %s", as_of_ts.date(), n_days, counts)
    return signals


# ------------------------------------------------------------------------------------------------ writing


def ensure_trend_tables(conn: Connection) -> None:
    """Create schema ``trends`` and its table when missing (inside the caller's transaction)."""
    q = warehouse.quote_ident
    conn.execute(sa.text(f"create schema if not exists {q(conn, SCHEMA)}"))
    columns = ",\n  ".join(f"{q(conn, name)} {sql_type}" for name, sql_type in SIGNAL_COLUMNS.items())
    key = ", ".join(q(conn, c) for c in _PRIMARY_KEY)
    conn.execute(
        sa.text(
            f"create table if not exists {q(conn, SCHEMA)}.{q(conn, TABLE)} (\n  {columns},\n  primary key ({key})\n)"
        )
    )


def write_trend_signals(
    signals: pd.DataFrame, as_of: dt.date | str | pd.Timestamp, settings: Settings | None = None
) -> int:
    """Replace the signals of ``as_of`` in ``trends.item_trend_signals`` in one transaction; rows written."""
    settings = settings or get_settings()
    day = pd.Timestamp(as_of).date()
    missing = [c for c in SIGNAL_COLUMNS if c not in signals.columns and c != "written_at"]
    if missing:
        raise SchemaContractError(f"trend signals lack columns: {', '.join(missing)}")
    other_days = set(pd.to_datetime(signals["as_of"]).dt.date) - {day}
    if other_days:
        raise SchemaContractError(f"signals hold other as_of dates {sorted(other_days)} than {day}")
    rows: Any = signals.copy()
    rows["as_of"] = pd.Timestamp(day)
    rows["written_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
    rows = rows[list(SIGNAL_COLUMNS)]
    with warehouse.connect(settings) as conn:
        ensure_trend_tables(conn)
        written = warehouse.replace_partition(conn, SCHEMA, TABLE, rows, where={"as_of": day})
    log.info("wrote %s trend signals for %s", written, day)
    return written
