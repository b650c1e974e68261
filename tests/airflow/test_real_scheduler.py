"""trendcast_daily end to end under a real Airflow: scheduler, dag-processor and api-server on loopback,
LocalExecutor, metadata and warehouse in the local PostgreSQL, triggered through the REST API."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.airflow.helpers import TRENDCAST, run, subprocess_env
from tests.conftest import postgres_settings
from trendcast.generate import generate
from trendcast.ingestion import ingest_paths
from trendcast.orchestration.environment import ADMIN_USER, admin_password, airflow_home
from trendcast.orchestration.local import AirflowApi, log_tail, running_airflow, wait_healthy
from trendcast.settings import Settings
from trendcast.warehouse import connect

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.slow]

METADATA_DB = "trendcast_airflow_e2e"
WAREHOUSE_DB = "trendcast_e2e_warehouse"
RUN_TIMEOUT_S = 720  # measured on the shared 2-core box: 530 s before the behaviour tasks, 371 s with them


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _recreate_databases(admin: Settings) -> None:
    engine = sa.create_engine(admin.sqlalchemy_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in (METADATA_DB, WAREHOUSE_DB):
            conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
            conn.exec_driver_sql(f'create database "{name}"')
    engine.dispose()


def _print_failed_task_logs(api: AirflowApi, run_id: str, home: Path) -> None:
    for ti in api.task_instances("trendcast_daily", run_id):
        if ti["state"] not in ("success", "skipped"):
            print(f"--- {ti['task_id']}: {ti['state']}")
            for path in sorted(
                (home / "logs").glob(f"dag_id=trendcast_daily/run_id={run_id}/task_id={ti['task_id']}/*")
            ):
                print(log_tail(path, 60))


def test_daily_dag_runs_under_the_real_scheduler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    admin = postgres_settings("test")
    _recreate_databases(admin)
    port = _free_port()
    settings = Settings(
        state_dir=tmp_path / "state",
        warehouse="postgres",
        pg_database=WAREHOUSE_DB,
        pseudonymisation_salt="e2e",
        airflow_port=port,
        airflow_metadata_url=admin.sqlalchemy_url.rsplit("/", 1)[0] + f"/{METADATA_DB}",
    )
    started = time.perf_counter()
    shop = tmp_path / "shop"
    generate(shop, seed=5, n_items=60, n_customers=400, days=400, n_lines=25_000)
    ingest_paths([shop], settings=settings)

    env = subprocess_env(
        settings,
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",  # only the run this test triggers
        AIRFLOW__CORE__PARALLELISM="4",
    )
    setup = run([TRENDCAST, "airflow", "setup"], env, timeout=300)
    assert setup.returncode == 0
    home = airflow_home(settings)
    with running_airflow(
        env, port=port, log_dir=tmp_path / "components", components=("api-server", "scheduler", "dag-processor")
    ) as procs:
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, timeout_s=180, procs=procs)
            api = AirflowApi(base, ADMIN_USER, admin_password(settings))
            api.wait_for_dag("trendcast_daily", timeout_s=180)
            run_id = api.trigger("trendcast_daily")
            api.unpause("trendcast_daily")
            triggered = time.perf_counter()
            final = api.wait_for_run("trendcast_daily", run_id, RUN_TIMEOUT_S)
            run_s = time.perf_counter() - triggered
            if final["state"] != "success":
                _print_failed_task_logs(api, run_id, home)
            states = {ti["task_id"]: ti["state"] for ti in api.task_instances("trendcast_daily", run_id)}
        finally:
            for name in procs:
                if procs[name].poll() is not None:
                    print(f"--- airflow {name} exited early:\n{log_tail(tmp_path / 'components' / f'{name}.log')}")
    wall = time.perf_counter() - started
    with capsys.disabled():  # shown in the CI log, not only on failure
        print(
            f"\ntrendcast_daily under the real scheduler: {run_s:.0f} s from REST trigger to {final['state']}; "
            f"end-to-end wall time {wall:.0f} s (generate, ingest, setup, start, run)"
        )
    assert final["state"] == "success", states
    assert len(states) >= 25 and set(states.values()) == {"success"}
    assert {"customer_propensity", "item_text_embeddings", "customer_recommendations"} <= set(states)

    with connect(settings) as conn:
        rows, items, day = conn.execute(
            sa.text("select count(*), count(distinct item_id), max(forecast_date) from forecasts.item_daily_forecast")
        ).one()
        last_sale = conn.execute(sa.text("select max(sale_date) from marts.ml_item_daily_sales")).scalar()
        consumer = conn.execute(sa.text("select count(*) from marts.item_demand_forecasts")).scalar()
        propensity = conn.execute(
            sa.text(
                "select count(*), count(distinct customer_key), max(scoring_date) "
                "from marts.customer_purchase_propensity"
            )
        ).one()
        recs = conn.execute(
            sa.text(
                "select count(*), count(distinct customer_key), max(recommendation_rank), max(scoring_date) "
                "from marts.customer_recommendations"
            )
        ).one()
        embedded, texts = conn.execute(
            sa.text(
                "select (select count(*) from scores.item_text_embeddings), "
                "(select count(distinct text_hash) from (select text_hash from marts.ml_item_text "
                "union select text_hash from marts.ml_item_review_text) as texts)"
            )
        ).one()
    assert items > 10 and rows == items * settings.forecast_horizon
    assert day == last_sale  # triggered without a logical date: the newest data
    assert consumer == rows
    # behaviour scores of the same as-of date, first models bootstrapped, visible through the consumer views
    assert propensity[0] == propensity[1] > 100 and propensity[2] == last_sale
    assert recs[1] > 100 and recs[2] == 10 and recs[0] <= 10 * recs[1] and recs[3] == last_sale
    assert embedded == texts > 10
