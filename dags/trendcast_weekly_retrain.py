"""
### trendcast_weekly_retrain

Sundays at 03:00 UTC: a rolling-origin backtest of trendcast's model families beside the statsforecast
baselines on the feature mart (`backtest`), each family fitted on all data, logged to MLflow and registered as
`@challenger` (`register`), and the champion / challenger decision (`promote`): `@champion` moves only when the
challenger beats SeasonalNaive and the current champion on the same folds with a bias within bounds.
The daily DAG always scores with whatever `@champion` is at that moment.

Beside it, the customer-behaviour models: `propensity` (retrained and promoted under the same champion /
challenger rule), `segments` (refitted, written to `scores.customer_segments` and validated), `elasticity` (own-price
elasticities per category and item into `scores.*_price_elasticity`, validated), and
`item_text_embeddings` -> `recommenders` (the families of the `recommender_families` param; co-occurrence by
default, add `"sasrec"` when minutes of CPU per week are fine: about 17 min on Online Retail II).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
from airflow.sdk import Param, chain, dag, task

from trendcast.orchestration import retrain, tasks
from trendcast.orchestration.dagkit import OWNER, default_args


@dag(
    dag_id=Path(__file__).stem,
    schedule="0 3 * * 0",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=6),
    default_args=default_args(execution_timeout=dt.timedelta(hours=2)),
    doc_md=__doc__,
    tags=["trendcast", "mlflow", "retrain"],
    owner_links={OWNER: "https://github.com/trendcast/trendcast"},
    params={
        "recommender_families": Param(
            list(retrain.RETRAIN_RECOMMENDERS),
            type="array",
            items={"type": "string", "enum": ["cooccurrence", "sasrec"]},
            minItems=1,
            description="Recommender families to train and register (sasrec: minutes of CPU).",
        )
    },
)
def trendcast_weekly_retrain() -> None:
    @task
    def backtest(**context) -> dict:
        return retrain.backtest(context["run_id"])

    @task
    def register(**context) -> dict:
        return retrain.register(context["run_id"])

    @task(retries=0)
    def promote(**context) -> dict:
        return retrain.promote(context["run_id"])

    @task
    def propensity() -> dict:
        return retrain.propensity()

    @task
    def segments() -> dict:
        return retrain.segments()

    @task
    def elasticity() -> dict:
        return retrain.elasticity()

    @task
    def item_text_embeddings() -> dict:
        return tasks.item_text_embeddings()

    @task
    def recommenders(**context) -> dict:
        return retrain.recommenders(context["params"]["recommender_families"])

    chain(backtest(), register(), promote())
    propensity()
    segments()
    elasticity()
    chain(item_text_embeddings(), recommenders())


trendcast_weekly_retrain()
