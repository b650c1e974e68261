"""
### trendcast_daily

Runs when `trendcast_ingest` lands new raw data (Asset `trendcast_raw_data`) or daily at 05:00 UTC:

1. `prepare_warehouse`: the write-back tables dbt reads as sources exist;
2. `dbt_features`: `dbt build` of seeds, staging, intermediate and feature marts, one Cosmos task per model
   (its data and unit tests run inside the task);
3. `quality_gate`: Great Expectations suites on `raw.transactions` and `marts.ml_item_daily_sales`; a blocking
   failure stops the run here and emails the data owners (no retries: data does not fix itself);
4. `ensure_champion`: the `@champion` model; on a fresh install it trains and promotes the first one;
5. `score`: forecasts of every active item into `forecasts.item_daily_forecast` (one transaction per date);
6. `trend_signals`, `dbt_consumer_marts`, `anomaly_digest`: trends, consumer views and the daily digest email;
7. customer behaviour, beside the forecast path once `score` is done (`trend_signals` goes first):
   `customer_propensity` (the `@champion`'s purchase probabilities, the first model trained on a fresh install),
   `item_text_embeddings` (only texts not embedded yet) and `customer_recommendations` (top-k per customer from
   the recommender `@champion`; a fresh install trains a co-occurrence one first), each write validated by its
   suite in `expectations/`. The consumer views are rebuilt after every score writer.

The forecast date is the last day with data on or before the run's logical date, so a backfill
(`airflow backfill create --dag-id trendcast_daily --from-date D --to-date D`) uses only data up to D and
writes the same rows again. Runs without a logical date (asset-triggered, manual) use the newest data.
Catch-up follows `[scheduler] catchup_by_default`. Warehouse writers share the `trendcast_warehouse` pool.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, chain, dag, task

from trendcast.orchestration import tasks
from trendcast.orchestration.dagkit import CONSUMER_MARTS, OWNER, dbt_task_group, default_args, raw_data_asset


@dag(
    dag_id=Path(__file__).stem,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 5 * * *", timezone="UTC"), assets=[raw_data_asset()]
    ),
    start_date=pendulum.datetime(2009, 12, 1, tz="UTC"),
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=4),
    default_args=default_args(),
    doc_md=__doc__,
    tags=["trendcast", "dbt", "forecast"],
    owner_links={OWNER: "https://github.com/trendcast/trendcast"},
)
def trendcast_daily() -> None:
    @task
    def prepare_warehouse() -> dict:
        return tasks.prepare_warehouse()

    @task(retries=0)
    def quality_gate() -> dict:
        return tasks.quality_gate()

    @task(execution_timeout=dt.timedelta(hours=2))
    def ensure_champion() -> dict:
        return tasks.ensure_champion()

    @task(execution_timeout=dt.timedelta(hours=1))
    def score(gate: dict, **context) -> dict:
        return tasks.score(context.get("logical_date"), validation_run_id=gate["run_id"])

    # The forecast path goes first when behaviour tasks wait for the same one-slot warehouse pool.
    @task(priority_weight=100)
    def trend_signals(**context) -> dict:
        return tasks.trend_signals(context.get("logical_date"))

    @task
    def customer_propensity(**context) -> dict:
        return tasks.customer_propensity(context.get("logical_date"))

    @task
    def item_text_embeddings() -> dict:
        return tasks.item_text_embeddings()

    @task(execution_timeout=dt.timedelta(hours=1))
    def customer_recommendations(**context) -> dict:
        return tasks.customer_recommendations(context.get("logical_date"))

    @task
    def anomaly_digest(**context) -> dict:
        return tasks.anomaly_digest(context.get("logical_date"))

    gate = quality_gate()
    forecasts = score(gate)
    consumer_marts = dbt_task_group("dbt_consumer_marts", select=[CONSUMER_MARTS])
    chain(
        prepare_warehouse(),
        dbt_task_group("dbt_features", exclude=[CONSUMER_MARTS]),
        gate,
        ensure_champion(),
        forecasts,
        trend_signals(),
        consumer_marts,
        anomaly_digest(),
    )
    chain(forecasts, [customer_propensity(), item_text_embeddings()], consumer_marts)
    chain(forecasts, customer_recommendations(), consumer_marts)


trendcast_daily()
