"""Sales anomalies: item-days and shop-days far from a robust seasonal baseline, and the daily digest email.

Baseline: per series and weekday, the median of the same weekday over the previous ``weeks`` weeks (so a
quiet Sunday is compared with Sundays). Scale: the inter-quartile range of those values / 1.349, floored at
the Poisson standard deviation sqrt(baseline + 1) so intermittent series (IQR 0) do not alarm on one unit.
A spike needs a robust z of at least ``z_threshold``, ``min_units`` units, ``min_ratio`` x the baseline and
for items, ``high_ratio`` x the 95th percentile of the item's last ``high_window_days`` days (wholesale
orders make item series lumpy: one pallet is not an anomaly if pallets come every few weeks);
a drop needs a baseline of ``min_drop_baseline`` units or more and a fall below ``drop_ratio`` x baseline.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa

from trendcast.exceptions import SchemaContractError
from trendcast.settings import DBT_PROJECT_DIR, Settings, get_settings
from trendcast.warehouse import connect, replace_partition, table_exists

if TYPE_CHECKING:
    from trendcast.alerts import Delivery
    from trendcast.quality.gate import GateResult

__all__ = [
    "AnomalyParams",
    "ANOMALY_COLUMNS",
    "SALES_ANOMALIES_DDL",
    "detect_sales_anomalies",
    "write_sales_anomalies",
    "build_daily_digest",
    "run_daily_anomalies",
]

log = logging.getLogger(__name__)

SHOP_ID = "__shop__"
ANOMALY_COLUMNS = [
    "detection_date",
    "level",
    "item_id",
    "sale_date",
    "units",
    "baseline",
    "robust_z",
    "ratio",
    "direction",
    "score",
]
SALES_ANOMALIES_DDL = """
create table if not exists ops.sales_anomalies (
    detection_date date not null,
    level varchar not null,
    item_id varchar,
    sale_date date not null,
    units double precision not null,
    baseline double precision not null,
    robust_z double precision not null,
    ratio double precision,
    direction varchar not null,
    score double precision not null,
    detected_at timestamp not null
)"""


@dataclass(frozen=True)
class AnomalyParams:
    """Thresholds of the detector (defaults tuned on generated data with planted spikes and drops)."""

    weeks: int = 8
    min_weeks: int = 3
    z_threshold: float = 4.0
    min_units: float = 10.0
    min_ratio: float = 2.5
    drop_ratio: float = 0.25
    min_drop_baseline: float = 10.0
    shop_min_units: float = 50.0
    high_window_days: int = 56
    high_quantile: float = 0.95
    high_ratio: float = 1.5
    skip_christmas: bool = True
    min_spike_baseline: float = 1.0


def _scored(series: pd.DataFrame, params: AnomalyParams) -> pd.DataFrame:
    """Add baseline, scale and robust z to a frame of (series_id, sale_date, units) rows."""
    frame = series.sort_values(["series_id", "sale_date"]).reset_index(drop=True)
    frame["dow"] = pd.to_datetime(frame["sale_date"]).dt.dayofweek
    frame = frame.sort_values(["series_id", "dow", "sale_date"]).reset_index(drop=True)
    keys = [frame["series_id"], frame["dow"]]
    previous = frame.groupby(["series_id", "dow"], sort=False)["units"].shift(1)
    rolling = previous.groupby(keys, sort=False).rolling(params.weeks, min_periods=params.min_weeks)
    q25 = rolling.quantile(0.25).reset_index(level=[0, 1], drop=True)
    q50 = rolling.median().reset_index(level=[0, 1], drop=True)
    q75 = rolling.quantile(0.75).reset_index(level=[0, 1], drop=True)
    frame["baseline"] = q50.reindex(frame.index)
    iqr_scale = (q75 - q25).reindex(frame.index) / 1.349
    frame["scale"] = np.maximum(iqr_scale, np.sqrt(frame["baseline"] + 1.0))
    frame["robust_z"] = (frame["units"] - frame["baseline"]) / frame["scale"]
    frame["ratio"] = frame["units"] / frame["baseline"].where(frame["baseline"] > 0)
    # Lumpy (wholesale) series: a spike must also clear the recent high days of any weekday.
    frame = frame.sort_values(["series_id", "sale_date"]).reset_index(drop=True)
    recent = frame.groupby("series_id", sort=False)["units"].shift(1)
    frame["recent_high"] = (
        recent.groupby(frame["series_id"], sort=False)
        .rolling(params.high_window_days, min_periods=params.min_weeks * 7)
        .quantile(params.high_quantile)
        .reset_index(level=0, drop=True)
        .reindex(frame.index)
    )
    return frame.dropna(subset=["baseline"])


def _flag(frame: pd.DataFrame, params: AnomalyParams, min_units: float, *, lumpy: bool) -> pd.DataFrame:
    high = params.high_ratio * np.maximum(frame["recent_high"].fillna(0.0), 1.0) if lumpy else 0.0
    spike = (
        (frame["robust_z"] >= params.z_threshold)
        & (frame["units"] >= min_units)
        & (frame["units"] >= params.min_ratio * np.maximum(frame["baseline"], 1.0))
        & (frame["units"] >= high)
        # Intermittent series (usually no sale on this weekday) have no "normal day" to exceed.
        & (frame["baseline"] >= params.min_spike_baseline)
    )
    drop = (
        (frame["robust_z"] <= -params.z_threshold / 2)
        & (frame["baseline"] >= max(params.min_drop_baseline, min_units))
        & (frame["units"] <= params.drop_ratio * frame["baseline"])
    )
    flagged = frame[spike | drop].copy()
    flagged["direction"] = np.where(spike[spike | drop], "spike", "drop")
    flagged["score"] = flagged["robust_z"].abs()
    return flagged


def detect_sales_anomalies(
    item_days: pd.DataFrame,
    *,
    since: dt.date | None = None,
    params: AnomalyParams | None = None,
    value_col: str = "units_sold",
    detection_date: dt.date | None = None,
    holidays: Iterable[dt.date] = (),
) -> pd.DataFrame:
    """Anomalous item-days and shop-days of an item x day frame (``item_id``, ``sale_date``, ``value_col``).

    Only days on or after ``since`` are reported (earlier days serve as baseline); known ``holidays``
    (closures and peaks the calendar already explains) are not reported. Returns
    ``ANOMALY_COLUMNS``; ``level`` is ``item`` or ``shop`` (``item_id`` null), sorted by score.
    The input is not modified.
    """
    params = params or AnomalyParams()
    frame = item_days[["item_id", "sale_date", value_col]].rename(columns={value_col: "units"})
    frame = frame.assign(
        sale_date=pd.to_datetime(frame["sale_date"]), units=pd.to_numeric(frame["units"]).astype(float)
    )
    if since is not None:
        # Enough history for the baseline, nothing older: keeps the daily run cheap on long tables.
        start = pd.Timestamp(since) - pd.Timedelta(weeks=params.weeks + 1)
        frame = frame[frame["sale_date"] >= start]
    detection_date = detection_date or (frame["sale_date"].max().date() if len(frame) else dt.date.today())
    if frame.empty:
        return pd.DataFrame(columns=ANOMALY_COLUMNS)

    items = _scored(frame.rename(columns={"item_id": "series_id"}), params)
    item_flags = _flag(items, params, params.min_units, lumpy=True).rename(columns={"series_id": "item_id"})
    item_flags["level"] = "item"

    shop = frame.groupby("sale_date", as_index=False)["units"].sum().assign(series_id=SHOP_ID)
    shop_flags = _flag(_scored(shop, params), params, params.shop_min_units, lumpy=False).drop(columns=["series_id"])
    shop_flags["item_id"] = None
    shop_flags["level"] = "shop"

    out = pd.concat([item_flags, shop_flags], ignore_index=True)
    if since is not None:
        out = out[out["sale_date"] >= pd.Timestamp(since)]
    out = out.assign(detection_date=detection_date, sale_date=out["sale_date"].dt.date)
    known = set(holidays)
    if known:
        out = out[~out["sale_date"].isin(known)]
    if params.skip_christmas:
        # A UK shop's Christmas shutdown and restart (24 Dec - 3 Jan) are expected, not anomalies.
        month_day = pd.to_datetime(out["sale_date"]).dt.strftime("%m%d")
        out = out[~((month_day >= "1224") | (month_day <= "0103"))]
    out = out.sort_values(["score", "sale_date"], ascending=[False, True]).reset_index(drop=True)
    log.info("found %d item and %d shop anomalies", (out["level"] == "item").sum(), (out["level"] == "shop").sum())
    return out[ANOMALY_COLUMNS]


def write_sales_anomalies(anomalies: pd.DataFrame, detection_date: dt.date, settings: Settings | None = None) -> int:
    """Replace ops.sales_anomalies rows of ``detection_date`` with these, in one transaction."""
    frame = anomalies[ANOMALY_COLUMNS].assign(
        detection_date=detection_date,
        detected_at=pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        item_id=anomalies["item_id"].astype(object).where(anomalies["item_id"].notna(), None),
    )
    with connect(settings) as conn:
        conn.execute(sa.text("create schema if not exists ops"))
        conn.execute(sa.text(SALES_ANOMALIES_DDL))
        return replace_partition(conn, "ops", "sales_anomalies", frame, where={"detection_date": detection_date})


def build_daily_digest(
    anomalies: pd.DataFrame,
    *,
    detection_date: dt.date,
    settings: Settings | None = None,
    gate: GateResult | None = None,
    top: int = 25,
) -> EmailMessage:
    """The daily digest: data-quality status (when given) and the strongest anomalies of the day."""
    from trendcast.alerts import html_table, make_message

    settings = settings or get_settings()
    n_item = int((anomalies["level"] == "item").sum())
    n_shop = int((anomalies["level"] == "shop").sum())
    subject = f"[trendcast] Daily digest {detection_date.isoformat()}: {n_item} item and {n_shop} shop anomalies"
    shown = anomalies.head(top)
    header = ["level", "item", "date", "units", "baseline", "robust z", "direction"]
    rows = [
        [
            r.level,
            r.item_id or "(whole shop)",
            str(r.sale_date),
            f"{r.units:,.0f}",
            f"{r.baseline:,.1f}",
            f"{r.robust_z:+.1f}",
            r.direction,
        ]
        for r in shown.itertuples()
    ]
    text = [f"trendcast daily digest for {detection_date.isoformat()}", ""]
    parts = [f"<h2>trendcast daily digest for {html.escape(detection_date.isoformat())}</h2>"]
    if gate is not None:
        status = "passed" if gate.passed else f"FAILED ({len(gate.failures)} blocking)"
        line = f"Data quality run {gate.run_id}: {status}, {len(gate.warnings)} warnings"
        text += [line, ""]
        parts.append(f"<p>{html.escape(line)}</p>")
    text.append(f"Sales anomalies: {n_item} item-days, {n_shop} shop-days (showing {len(shown)} strongest).")
    parts.append(f"<p>Sales anomalies: {n_item} item-days, {n_shop} shop-days (showing {len(shown)} strongest).</p>")
    if rows:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
        text += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) for row in [header, *rows]]
        parts.append(html_table(header, rows))
    text += [
        "",
        "All of them: select * from ops.sales_anomalies where detection_date = "
        f"'{detection_date.isoformat()}' order by score desc",
    ]
    return make_message(
        subject,
        "\n".join(text) + "\n",
        "".join(parts),
        settings,
        headers={"X-Trendcast-Kind": "daily-digest"},
    )


def _bank_holidays() -> set[dt.date]:
    """Bank holidays from the dbt seed (the same calendar the feature marts use)."""
    path = DBT_PROJECT_DIR / "seeds" / "uk_bank_holidays.csv"
    if not path.exists():
        return set()
    return set(pd.read_csv(path, parse_dates=["holiday_date"])["holiday_date"].dt.date)


def run_daily_anomalies(
    settings: Settings | None = None,
    *,
    detection_date: dt.date | None = None,
    days: int = 7,
    params: AnomalyParams | None = None,
    gate: GateResult | None = None,
    send: bool = True,
) -> tuple[pd.DataFrame, Delivery | None]:
    """Detect anomalies in the last ``days`` days of marts.ml_item_daily_sales, store them, send the digest."""
    from trendcast.alerts import deliver

    settings = settings or get_settings()
    params = params or AnomalyParams()
    with connect(settings) as conn:
        if not table_exists(conn, "marts", "ml_item_daily_sales"):
            raise SchemaContractError("marts.ml_item_daily_sales does not exist: run `trendcast build` first")
        if detection_date is None:
            latest = conn.execute(sa.text("select max(sale_date) from marts.ml_item_daily_sales")).scalar()
            detection_date = pd.Timestamp(latest).date()
        start = detection_date - dt.timedelta(days=days - 1 + 7 * (params.weeks + 1))
        frame = pd.read_sql(
            sa.text(
                "select item_id, sale_date, units_sold from marts.ml_item_daily_sales "
                "where sale_date between :start and :end"
            ),
            conn,
            params={"start": start, "end": detection_date},
        )
    since = detection_date - dt.timedelta(days=days - 1)
    anomalies = detect_sales_anomalies(
        frame, since=since, params=params, detection_date=detection_date, holidays=_bank_holidays()
    )
    write_sales_anomalies(anomalies, detection_date, settings)
    delivery = (
        deliver(
            build_daily_digest(anomalies, detection_date=detection_date, settings=settings, gate=gate),
            settings,
        )
        if send
        else None
    )
    return anomalies, delivery
