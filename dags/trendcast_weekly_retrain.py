"""
### trendcast_weekly_retrain

Sundays at 03:00 UTC: a rolling-origin backtest of trendcast's model families beside the statsforecast
baselines on the feature mart (`backtest`), each family fitted on all data, logged to MLflow and registered as
`@challenger` (`register`), and the champion / challenger decision (`promote`): `@champion` moves only when the
challenger beats SeasonalNaive and the current champion on the same folds with a bias within bounds.
The daily DAG always scores with whatever `@champion` is at that moment.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
from airflow.sdk import chain, dag, task

from trendcast.orchestration import retrain
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

    chain(backtest(), register(), promote())


trendcast_weekly_retrain()
