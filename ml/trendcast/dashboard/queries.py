"""The dashboard's read-only SQL: every value from a request reaches the database as a bound parameter.

Identifiers in these statements are constants of this module (or names read from ``information_schema``), never
request text. Functions take an open (read-only) connection and return frames or plain dicts; tables that a
fresh warehouse does not have yet give empty results instead of errors.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from trendcast.dashboard.db import read_frame

__all__ = [
    "OUTPUT_TABLES",
    "available_tables",
    "latest_runs",
    "dq_latest_results",
    "leaderboard",
    "freshness",
    "search_items",
    "item_info",
    "item_actuals",
    "item_forecast",
    "backtest_model",
    "item_backtests",
    "categories",
    "category_actuals",
    "category_forecast",
    "top_trends",
    "weekly_units",
    "anomalies",
    "shop_daily_units",
    "segments",
    "propensity_summary",
    "propensity_histogram",
    "propensity_by_segment",
    "propensity_top_customers",
    "recommendations_summary",
    "top_recommended_items",
    "customer_recommendations",
    "top_items",
    "countries",
    "country_actuals",
    "country_top_items",
]

#: Tables whose freshness the overview shows: (schema, table, time column, what it holds).
OUTPUT_TABLES: tuple[tuple[str, str, str, str], ...] = (
    ("marts", "ml_item_daily_sales", "sale_date", "feature mart: item x day sales"),
    ("ops", "dq_runs", "finished_at", "data-quality runs"),
    ("ops", "model_leaderboard", "trained_at", "training runs: backtest leaderboard"),
    ("forecasts", "item_backtest_forecast", "written_at", "backtest forecasts"),
    ("forecasts", "item_daily_forecast", "written_at", "demand forecasts"),
    ("trends", "item_trend_signals", "written_at", "trend signals"),
    ("ops", "sales_anomalies", "detected_at", "sales anomalies"),
)
_DAILY_SALES = "marts.ml_item_daily_sales"
_ITEMS = "marts.ml_item_text"
_FORECASTS = "marts.item_demand_forecasts"
_TRENDS = "marts.item_trends"
_BACKTESTS = "forecasts.item_backtest_forecast"
_LEADERBOARD = "ops.model_leaderboard"
_COUNTRY_SALES = "marts.ml_country_daily_sales"
_COUNTRY_ITEM_SALES = "marts.ml_country_item_daily_sales"
_PROPENSITY = "scores.customer_purchase_propensity"
_SEGMENTS = "scores.customer_segments"
_RECOMMENDATIONS = "scores.customer_recommendations"
#: The gate's runs are those that validate the feature mart (score suites run on their own, later).
_GATE_TABLE = "marts.ml_item_daily_sales"


def _latest(table: str) -> str:
    """``where`` clause keeping the newest scoring date of a ``scores.*`` table (a module constant)."""
    return f"where scoring_date = (select max(scoring_date) from {table})"


def available_tables(conn: Connection) -> set[str]:
    """``schema.table`` of every table and view in the warehouse."""
    frame = read_frame(conn, "select table_schema, table_name from information_schema.tables")
    return {f"{s}.{t}" for s, t in zip(frame["table_schema"], frame["table_name"], strict=True)}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-friendly rows: timestamps as ISO strings, NaN as None."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%dT%H:%M:%S").str.replace("T00:00:00", "", regex=False)
        elif out[column].dtype == object:
            out[column] = out[column].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict(orient="records")


def latest_runs(conn: Connection, tables: set[str]) -> list[dict[str, Any]]:
    """The latest run of each pipeline step that writes the warehouse, with its outcome."""
    runs: list[dict[str, Any]] = []
    if "ops.dq_runs" in tables:
        frame = read_frame(
            conn,
            "select run_id, min(started_at) as started_at, max(finished_at) as finished_at, "
            "count(*) as suites, sum(case when success then 0 else 1 end) as failed_suites, "
            "sum(n_rows) as n_rows from ops.dq_runs where run_id in "
            "(select run_id from ops.dq_runs where table_name = :gate_table) "
            "group by run_id order by max(finished_at) desc limit 1",
            {"gate_table": _GATE_TABLE},
        )
        for row in _records(frame):
            ok = row["failed_suites"] == 0
            detail = f"{row['suites']} suites, {int(row['n_rows'] or 0):,} rows, {row['failed_suites']} failed"
            runs.append(_run("data-quality gate", row["finished_at"], ok, detail, row["run_id"]))
    if _LEADERBOARD in tables:
        frame = read_frame(
            conn,
            f"select training_run_id, trained_at, model, is_champion, promoted, decision from {_LEADERBOARD} "
            f"where trained_at = (select max(trained_at) from {_LEADERBOARD}) order by rank",
        )
        if len(frame):
            champion = frame.loc[frame["is_champion"].astype(bool), "model"]
            detail = f"{len(frame)} models backtested; champion: {champion.iat[0] if len(champion) else 'none'}"
            decisions = frame["decision"].dropna()
            if len(decisions):
                detail += f"; {decisions.iat[0]}"
            runs.append(
                _run("training", _records(frame)[0]["trained_at"], True, detail, frame["training_run_id"].iat[0])
            )
    if "forecasts.item_daily_forecast" in tables:
        frame = read_frame(
            conn,
            "select forecast_date, max(written_at) as written_at, count(distinct item_id) as items, "
            "max(model_name) as model_name, max(model_version) as model_version, max(mlflow_run_id) as run_id "
            "from forecasts.item_daily_forecast "
            "where forecast_date = (select max(forecast_date) from forecasts.item_daily_forecast) group by 1",
        )
        for row in _records(frame):
            model = f"{row['model_name']} v{row['model_version']}"
            detail = f"forecast date {row['forecast_date']}: {row['items']} items, {model}"
            runs.append(_run("forecast", row["written_at"], True, detail, row["run_id"]))
    if "trends.item_trend_signals" in tables:
        frame = read_frame(
            conn,
            "select as_of, max(written_at) as written_at, count(*) as signals, "
            "sum(case when direction = 'rising' then 1 else 0 end) as rising, "
            "sum(case when direction = 'falling' then 1 else 0 end) as falling "
            "from trends.item_trend_signals "
            "where as_of = (select max(as_of) from trends.item_trend_signals) group by 1",
        )
        for row in _records(frame):
            detail = f"as of {row['as_of']}: {row['signals']} signals, {row['rising']} rising, {row['falling']} falling"
            runs.append(_run("trends", row["written_at"], True, detail, None))
    if "ops.sales_anomalies" in tables:
        frame = read_frame(
            conn,
            "select detection_date, max(detected_at) as detected_at, count(*) as anomalies from ops.sales_anomalies "
            "where detection_date = (select max(detection_date) from ops.sales_anomalies) group by 1",
        )
        for row in _records(frame):
            detail = f"detection date {row['detection_date']}: {row['anomalies']} anomalies"
            runs.append(_run("anomalies", row["detected_at"], True, detail, None))
    return runs


def _run(step: str, at: Any, ok: bool, detail: str, run_id: Any) -> dict[str, Any]:
    return {
        "step": step,
        "finished_at": at,
        "status": "success" if ok else "failed",
        "detail": detail,
        "run_id": run_id,
    }


def dq_latest_results(conn: Connection, tables: set[str], limit: int = 30) -> list[dict[str, Any]]:
    """Checks of the latest data-quality run, failures first."""
    if "ops.dq_results" not in tables:
        return []
    frame = read_frame(
        conn,
        "select suite, table_name, check_name, expectation_type, column_name, severity, success, "
        "unexpected_percent, observed_value from ops.dq_results "
        "where run_id = (select run_id from ops.dq_runs order by finished_at desc limit 1) "
        "order by success, severity, suite, check_name limit :limit",
        {"limit": limit},
    )
    return _records(frame)


def leaderboard(conn: Connection, tables: set[str]) -> list[dict[str, Any]]:
    """The latest training run's leaderboard, best WRMSSE first."""
    if _LEADERBOARD not in tables:
        return []
    frame = read_frame(
        conn,
        f"select training_run_id, trained_at, model, rank, is_champion, is_candidate, wrmsse, rmsse, mase, wape, "
        f"bias, scaled_pinball, coverage_80, coverage_95, fit_s, predict_s, mlflow_run_id, model_version, cutoffs, "
        f"horizon from {_LEADERBOARD} where training_run_id = "
        f"(select training_run_id from {_LEADERBOARD} order by trained_at desc limit 1) order by rank",
    )
    return _records(frame)


def freshness(conn: Connection, tables: set[str]) -> list[dict[str, Any]]:
    """Rows and newest timestamp of each output table (``None`` when the table does not exist yet)."""
    out = []
    for schema, table, column, what in OUTPUT_TABLES:
        name = f"{schema}.{table}"
        row: dict[str, Any] = {"table": name, "holds": what, "time_column": column, "rows": None, "latest": None}
        if name in tables:
            frame = read_frame(conn, f"select count(*) as n, max({column}) as latest from {name}")
            record = _records(frame)[0]
            row["rows"], row["latest"] = int(record["n"]), record["latest"]
        out.append(row)
    return out


def search_items(
    conn: Connection, text: str | None = None, category: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Items whose id or description contains ``text`` (case-insensitive), optionally of one category."""
    frame = read_frame(
        conn,
        f"select item_id, description, category from {_ITEMS} "
        "where (cast(:text as varchar) is null or strpos(lower(item_id), lower(cast(:text as varchar))) > 0 "
        "or strpos(lower(description), lower(cast(:text as varchar))) > 0) "
        "and (cast(:category as varchar) is null or category = cast(:category as varchar)) "
        "order by item_id limit :limit",
        {"text": text or None, "category": category or None, "limit": limit},
    )
    return _records(frame)


def item_info(conn: Connection, item_id: str) -> dict[str, Any] | None:
    """Id, description and category of one item; ``None`` when the warehouse has no such item."""
    frame = read_frame(
        conn, f"select item_id, description, category from {_ITEMS} where item_id = :item_id", {"item_id": item_id}
    )
    return _records(frame)[0] if len(frame) else None


def item_actuals(conn: Connection, item_id: str) -> pd.DataFrame:
    """``sale_date, units_sold`` of one item on the zero-filled calendar."""
    return read_frame(
        conn,
        f"select sale_date, units_sold from {_DAILY_SALES} where item_id = :item_id order by sale_date",
        {"item_id": item_id},
    )


def item_forecast(conn: Connection, tables: set[str], item_id: str) -> pd.DataFrame:
    """The latest forecast of one item: point, 80 % and 95 % bounds, model lineage."""
    if _FORECASTS not in tables:
        return pd.DataFrame()
    return read_frame(
        conn,
        "select forecast_date, target_date, units_forecast, units_lower_80, units_upper_80, units_lower_95, "
        f"units_upper_95, model_name, model_version from {_FORECASTS} "
        "where item_id = :item_id and is_latest order by target_date",
        {"item_id": item_id},
    )


def backtest_model(conn: Connection, tables: set[str]) -> str | None:
    """The model whose backtests the explorer shows: the champion of the latest training run, else its best."""
    if _LEADERBOARD not in tables:
        return None
    frame = read_frame(
        conn,
        f"select model from {_LEADERBOARD} where training_run_id = "
        f"(select training_run_id from {_LEADERBOARD} order by trained_at desc limit 1) "
        "order by is_champion desc, is_candidate desc, rank limit 1",
    )
    return None if frame.empty else str(frame["model"].iat[0])


def item_backtests(conn: Connection, tables: set[str], item_id: str, model: str | None) -> pd.DataFrame:
    """Past backtest forecasts of one item by ``model``: one row per (cutoff, target date)."""
    if _BACKTESTS not in tables or model is None:
        return pd.DataFrame()
    return read_frame(
        conn,
        "select cutoff, target_date, y, y_hat, y_hat_lo_80, y_hat_hi_80, y_hat_lo_95, y_hat_hi_95 "
        f"from {_BACKTESTS} where item_id = :item_id and model = :model order by cutoff, target_date",
        {"item_id": item_id, "model": model},
    )


def categories(conn: Connection) -> list[dict[str, Any]]:
    """Categories with their number of items."""
    frame = read_frame(
        conn,
        f"select coalesce(category, 'other') as category, count(*) as n_items from {_ITEMS} group by 1 order by 1",
    )
    return _records(frame)


def category_actuals(conn: Connection, category: str) -> pd.DataFrame:
    """Daily units of every item of a category, summed."""
    return read_frame(
        conn,
        f"select sale_date, sum(units_sold) as units_sold from {_DAILY_SALES} "
        "where coalesce(category, 'other') = :category group by 1 order by 1",
        {"category": category},
    )


def category_forecast(conn: Connection, tables: set[str], category: str) -> pd.DataFrame:
    """The latest point forecasts of a category's items, summed per target date (quantiles do not add up)."""
    if _FORECASTS not in tables:
        return pd.DataFrame()
    return read_frame(
        conn,
        f"select target_date, sum(units_forecast) as units_forecast from {_FORECASTS} "
        "where category = :category and is_latest group by 1 order by 1",
        {"category": category},
    )


def top_trends(conn: Connection, tables: set[str], level: str, direction: str, limit: int = 10) -> list[dict[str, Any]]:
    """The strongest latest ``rising`` / ``falling`` trends of ``item`` or ``category`` entities."""
    if _TRENDS not in tables:
        return []
    frame = read_frame(
        conn,
        "select entity_id, item_description, category, direction, strength, confidence, slope_units_per_week, "
        f"recent_units, forecast_units, n_items, as_of from {_TRENDS} "
        "where is_latest and level = :level and direction = :direction "
        "order by abs(strength) desc, entity_id limit :limit",
        {"level": level, "direction": direction, "limit": limit},
    )
    return _records(frame)


def weekly_units(conn: Connection, level: str, entity_ids: list[str], weeks: int = 12) -> dict[str, list[float]]:
    """Units per week over the last ``weeks`` full weeks of data, per item or category (for sparklines)."""
    if not entity_ids:
        return {}
    key = "item_id" if level == "item" else "coalesce(category, 'other')"
    frame = read_frame(
        conn,
        f"with bounds as (select max(sale_date) as last_day from {_DAILY_SALES}) "
        f"select {key} as entity_id, cast(floor((bounds.last_day - sale_date) / 7) as integer) as weeks_ago, "
        f"sum(units_sold) as units from {_DAILY_SALES} cross join bounds "
        f"where {key} in :ids and sale_date > bounds.last_day - :days group by 1, 2",
        {"ids": entity_ids, "days": 7 * weeks},
        expanding=("ids",),
    )
    out: dict[str, list[float]] = {e: [0.0] * weeks for e in entity_ids}
    for entity, ago, units in frame.itertuples(index=False):
        if 0 <= int(ago) < weeks:
            out[str(entity)][weeks - 1 - int(ago)] = float(units)
    return out


def anomalies(conn: Connection, tables: set[str], limit: int = 50) -> list[dict[str, Any]]:
    """The most anomalous item- and shop-days of the latest detection date, highest score first."""
    if "ops.sales_anomalies" not in tables:
        return []
    frame = read_frame(
        conn,
        "select a.detection_date, a.level, a.item_id, i.description, a.sale_date, a.units, a.baseline, a.robust_z, "
        f"a.ratio, a.direction, a.score from ops.sales_anomalies a left join {_ITEMS} i on i.item_id = a.item_id "
        "where a.detection_date = (select max(detection_date) from ops.sales_anomalies) "
        "order by a.score desc, a.sale_date desc limit :limit",
        {"limit": limit},
    )
    return _records(frame)


def shop_daily_units(conn: Connection, days: int = 180) -> pd.DataFrame:
    """Units of the whole shop per day over the last ``days`` days of data."""
    return read_frame(
        conn,
        f"select sale_date, sum(units_sold) as units_sold from {_DAILY_SALES} "
        f"where sale_date > (select max(sale_date) from {_DAILY_SALES}) - :days group by 1 order by 1",
        {"days": days},
    )


def segments(conn: Connection, tables: set[str]) -> dict[str, Any] | None:
    """Customer segment sizes when a ``scores.*segment*`` table with a ``segment`` column exists, else None."""
    candidates = sorted(t for t in tables if t.startswith("scores.") and "segment" in t)
    for name in candidates:
        schema, table = name.split(".", 1)
        columns = read_frame(
            conn,
            "select column_name from information_schema.columns where table_schema = :schema and table_name = :table",
            {"schema": schema, "table": table},
        )["column_name"].tolist()
        label = next((c for c in ("segment_name", "segment", "segment_id", "cluster") if c in columns), None)
        if label is None:
            continue
        quoted = conn.dialect.identifier_preparer.quote
        source = f"{quoted(schema)}.{quoted(table)}"
        day = next((c for c in ("scoring_date", "as_of", "as_of_date") if c in columns), None)
        latest = f" where {quoted(day)} = (select max({quoted(day)}) from {source})" if day else ""
        frame = read_frame(
            conn,
            f"select cast({quoted(label)} as varchar) as segment, count(*) as customers "
            f"from {source}{latest} group by 1 order by 2 desc",
        )
        return {"table": name, "rows": _records(frame)}
    return None


def propensity_summary(conn: Connection, tables: set[str], threshold: float = 0.5) -> dict[str, Any] | None:
    """Latest scoring date's customers, how many score above ``threshold``, the model; None without scores."""
    if _PROPENSITY not in tables:
        return None
    frame = read_frame(
        conn,
        "select scoring_date, count(*) as customers, "
        "sum(case when purchase_probability > :threshold then 1 else 0 end) as above_threshold, "
        "avg(purchase_probability) as mean_probability, max(horizon_days) as horizon_days, "
        "max(model_name) as model_name, max(model_version) as model_version, max(model_alias) as model_alias, "
        f"max(mlflow_run_id) as mlflow_run_id, max(written_at) as written_at from {_PROPENSITY} "
        f"{_latest(_PROPENSITY)} group by scoring_date",
        {"threshold": threshold},
    )
    return {**_records(frame)[0], "threshold": threshold} if len(frame) else None


def propensity_histogram(conn: Connection, tables: set[str], bins: int = 20) -> list[dict[str, Any]]:
    """Customers per probability bin (``bins`` equal bins over [0, 1]) of the latest scoring date."""
    if _PROPENSITY not in tables:
        return []
    frame = read_frame(
        conn,
        "select least(cast(floor(purchase_probability * :bins) as integer), :bins - 1) as bin, "
        f"count(*) as customers from {_PROPENSITY} {_latest(_PROPENSITY)} group by 1",
        {"bins": bins},
    )
    counts = {int(b): int(n) for b, n in frame.itertuples(index=False)}
    return [{"low": b / bins, "high": (b + 1) / bins, "customers": counts.get(b, 0)} for b in range(bins)]


def propensity_by_segment(conn: Connection, tables: set[str], threshold: float = 0.5) -> list[dict[str, Any]]:
    """Mean probability and customers above ``threshold`` per customer segment (latest dates of both tables)."""
    if _PROPENSITY not in tables or _SEGMENTS not in tables:
        return []
    frame = read_frame(
        conn,
        f"with p as (select customer_key, purchase_probability from {_PROPENSITY} {_latest(_PROPENSITY)}), "
        f"s as (select customer_key, segment_name from {_SEGMENTS} {_latest(_SEGMENTS)}) "
        "select s.segment_name as segment, count(*) as customers, avg(p.purchase_probability) as mean_probability, "
        "sum(case when p.purchase_probability > :threshold then 1 else 0 end) as above_threshold "
        "from p join s on s.customer_key = p.customer_key group by 1 order by 3 desc, 1",
        {"threshold": threshold},
    )
    return _records(frame)


def propensity_top_customers(conn: Connection, tables: set[str], limit: int = 20) -> list[dict[str, Any]]:
    """The customers most likely to buy in the horizon (latest scoring date), highest probability first."""
    if _PROPENSITY not in tables:
        return []
    frame = read_frame(
        conn,
        "select customer_key, purchase_probability, propensity_decile, recency_days, frequency, monetary "
        f"from {_PROPENSITY} {_latest(_PROPENSITY)} order by purchase_probability desc, customer_key limit :limit",
        {"limit": limit},
    )
    return _records(frame)


def recommendations_summary(conn: Connection, tables: set[str]) -> dict[str, Any] | None:
    """Latest scoring date of the recommendations, customers with a list and the model; None without any."""
    if _RECOMMENDATIONS not in tables:
        return None
    frame = read_frame(
        conn,
        "select scoring_date, count(distinct customer_key) as customers, count(distinct item_id) as n_items, "
        "max(model_name) as model_name, max(model_version) as model_version, max(model_alias) as model_alias, "
        f"max(written_at) as written_at from {_RECOMMENDATIONS} {_latest(_RECOMMENDATIONS)} group by scoring_date",
    )
    return _records(frame)[0] if len(frame) else None


def top_recommended_items(conn: Connection, tables: set[str], limit: int = 20) -> list[dict[str, Any]]:
    """The items in the most customers' latest top-10 lists, with their description and mean rank."""
    if _RECOMMENDATIONS not in tables:
        return []
    frame = read_frame(
        conn,
        "select r.item_id, max(i.description) as description, max(i.category) as category, "
        "count(*) as customers, avg(cast(r.rank as double precision)) as mean_rank, "
        "sum(case when r.rank = 1 then 1 else 0 end) as top1_customers "
        f"from {_RECOMMENDATIONS} r left join {_ITEMS} i on i.item_id = r.item_id "
        f"where r.scoring_date = (select max(scoring_date) from {_RECOMMENDATIONS}) "
        "group by r.item_id order by customers desc, r.item_id limit :limit",
        {"limit": limit},
    )
    return _records(frame)


def customer_recommendations(conn: Connection, tables: set[str], customer_key: str) -> list[dict[str, Any]]:
    """The latest top-10 list of one customer key (rank order); [] for none."""
    if _RECOMMENDATIONS not in tables:
        return []
    frame = read_frame(
        conn,
        "select r.customer_key, r.rank, r.item_id, i.description, i.category, r.score "
        f"from {_RECOMMENDATIONS} r left join {_ITEMS} i on i.item_id = r.item_id "
        f"where r.scoring_date = (select max(scoring_date) from {_RECOMMENDATIONS}) and r.customer_key = :key "
        "order by r.rank limit 10",
        {"key": customer_key},
    )
    return _records(frame)


def top_items(conn: Connection, limit: int = 20, days: int = 28) -> list[dict[str, Any]]:
    """The items that sold the most units in the last ``days`` days of data."""
    frame = read_frame(
        conn,
        f"select s.item_id, max(i.description) as description, max(i.category) as category, "
        f"sum(s.units_sold) as recent_units from {_DAILY_SALES} s left join {_ITEMS} i on i.item_id = s.item_id "
        f"where s.sale_date > (select max(sale_date) from {_DAILY_SALES}) - :days "
        "group by s.item_id order by recent_units desc, s.item_id limit :limit",
        {"days": days, "limit": limit},
    )
    return _records(frame)


def countries(conn: Connection, tables: set[str]) -> list[dict[str, Any]]:
    """Countries with their units, revenue and orders over all days, most units first (empty without the mart)."""
    if _COUNTRY_SALES not in tables:
        return []
    frame = read_frame(
        conn,
        "select country, min(sale_date) as first_sale_date, sum(units_sold) as units_sold, "
        f"sum(revenue_sold) as revenue_sold, sum(n_orders) as n_orders from {_COUNTRY_SALES} "
        "group by country order by units_sold desc, country",
    )
    return _records(frame)


def country_actuals(conn: Connection, country: str) -> pd.DataFrame:
    """``sale_date, units_sold, revenue_sold, n_orders, n_customers`` of one country on the zero-filled calendar."""
    return read_frame(
        conn,
        f"select sale_date, units_sold, revenue_sold, n_orders, n_customers from {_COUNTRY_SALES} "
        "where country = :country order by sale_date",
        {"country": country},
    )


def country_top_items(
    conn: Connection, tables: set[str], country: str, limit: int = 20, days: int = 28
) -> list[dict[str, Any]]:
    """The items of ``country`` that sold the most units in the last ``days`` days of data."""
    if _COUNTRY_ITEM_SALES not in tables:
        return []
    frame = read_frame(
        conn,
        "select s.item_id, max(i.description) as description, max(i.category) as category, "
        "sum(s.units_sold) as recent_units, sum(s.revenue_sold) as recent_revenue "
        f"from {_COUNTRY_ITEM_SALES} s left join {_ITEMS} i on i.item_id = s.item_id "
        f"where s.country = :country and s.sale_date > (select max(sale_date) from {_COUNTRY_SALES}) - :days "
        "group by s.item_id order by recent_units desc, s.item_id limit :limit",
        {"country": country, "days": days, "limit": limit},
    )
    return _records(frame)
