"""Re-running trendcast_daily for a past logical date (a backfill) writes exactly the same forecast rows."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.airflow.helpers import TRENDCAST, last_json, run, subprocess_env
from tests.state_scan import files_holding
from trendcast.generate import generate
from trendcast.orchestration.environment import landing_dir
from trendcast.settings import Settings
from trendcast.warehouse import connect

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

START = dt.date(2023, 1, 2)
PAST = dt.date(2023, 12, 10)  # well inside the generated history, which runs to 2024-02-05
LINEAGE = ["written_at", "dbt_invocation_id", "validation_run_id", "mlflow_run_id"]  # differ per run by design
KEY = ["forecast_date", "item_id", "target_date"]


def _forecasts(settings: Settings, day: dt.date) -> pd.DataFrame:
    with connect(settings) as conn:
        frame = pd.read_sql(
            sa.text("select * from forecasts.item_daily_forecast where forecast_date = :d"), conn, params={"d": day}
        )
    return frame.drop(columns=[c for c in LINEAGE if c in frame]).sort_values(KEY).reset_index(drop=True)


def test_backfilling_a_past_date_reproduces_the_same_forecast_rows(settings: Settings) -> None:
    generate(
        landing_dir(settings) / "shop", seed=11, n_items=60, n_customers=400, start=START, days=400, n_lines=25_000
    )
    env = subprocess_env(settings)
    started = time.perf_counter()
    assert run([TRENDCAST, "airflow", "setup"], env).returncode == 0
    ingest = run([TRENDCAST, "airflow", "run", "trendcast_ingest"], env)
    assert ingest.returncode == 0 and last_json(ingest.stdout)["state"] == "success"

    runs = []
    for _ in range(2):
        proc = run([TRENDCAST, "airflow", "run", "trendcast_daily", "--date", PAST.isoformat()], env, timeout=900)
        assert proc.returncode == 0
        runs.append(last_json(proc.stdout))
        if len(runs) == 1:
            first = _forecasts(settings, PAST)
    second = _forecasts(settings, PAST)
    print(f"setup + ingest + two trendcast_daily runs for {PAST}: {time.perf_counter() - started:.0f} s")

    tasks = {t["task_id"]: t for t in runs[0]["tasks"]}
    assert "bootstrapped': True" in tasks["ensure_champion"]["result"]  # fresh install: first champion trained
    assert "bootstrapped': False" in {t["task_id"]: t for t in runs[1]["tasks"]}["ensure_champion"]["result"]
    assert all(t["state"] == "success" for r in runs for t in r["tasks"])
    assert runs[0]["logical_date"].startswith(PAST.isoformat())
    # forecasts for the past date only: history up to PAST, targets start the day after
    assert len(first) > 0 and set(first["forecast_date"].astype(str)) == {PAST.isoformat()}
    assert pd.to_datetime(first["target_date"]).min().date() == PAST + dt.timedelta(days=1)
    assert first["horizon"].max() == settings.forecast_horizon
    pd.testing.assert_frame_equal(first, second)
    with connect(settings) as conn:  # replaced, not appended: one set of rows for the date
        n = conn.execute(sa.text("select count(*) from forecasts.item_daily_forecast")).scalar()
        behaviour = {
            table: conn.execute(
                sa.text(
                    f"select count(*), count(distinct customer_key), min(scoring_date), max(scoring_date) from {table}"
                )
            ).one()
            for table in ("scores.customer_purchase_propensity", "scores.customer_recommendations")
        }
    assert n == len(second)
    # behaviour scores as of the backfilled date, replaced on the re-run (one set of rows per customer)
    for name in ("customer_propensity", "customer_recommendations"):
        assert f"'scoring_date': '{PAST.isoformat()}'" in tasks[name]["result"], tasks[name]["result"]
    rows, customers, first_day, last_day = behaviour["scores.customer_purchase_propensity"]
    assert rows == customers > 100 and first_day == last_day == PAST
    rows, customers, first_day, last_day = behaviour["scores.customer_recommendations"]
    assert customers > 100 and customers < rows <= 10 * customers and first_day == last_day == PAST
    # the salt reaches task processes through their environment, never a file: not Airflow's metadata database,
    # task logs, Cosmos' dbt artifacts or the warehouse (tests/conftest.py sets it to a distinctive value)
    assert files_holding(settings.state_path, settings.salt()) == []
