"""The demo pipeline end to end on a small generated shop: every step leaves what it promises in the warehouse."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.state_scan import files_holding
from trendcast.forecasting import workflow
from trendcast.pipeline import run_demo
from trendcast.settings import Settings
from trendcast.warehouse import connect

pytestmark = pytest.mark.slow

FORECAST_KEY = ["forecast_date", "item_id", "target_date"]
DEMO_SALT = "demo-salt-9c41e7"  # distinctive: a grep hit means the salt itself leaked


def read(settings: Settings, query: str) -> pd.DataFrame:
    with connect(settings) as conn:
        return pd.read_sql(sa.text(query), conn)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, object]:
    state = tmp_path_factory.mktemp("demo-state")
    settings = Settings(state_dir=state, pseudonymisation_salt=DEMO_SALT)
    summary = run_demo(settings, seed=3, n_lines=40_000, families=("xgb",))
    return settings, summary


def test_demo_writes_forecasts_for_every_active_item(demo) -> None:
    settings, summary = demo
    steps = [s.step for s in summary.steps]
    assert steps == ["generate", "ingest", "dbt build", "validate", "train", "forecast", "trends", "anomalies"]
    forecasts = read(settings, "select * from forecasts.item_daily_forecast")
    horizon = settings.forecast_horizon
    per_item = forecasts.groupby("item_id")["horizon"].agg(["count", "min", "max"])
    assert (per_item["count"] == horizon).all() and (per_item["min"] == 1).all() and (per_item["max"] == horizon).all()
    active = read(
        settings,
        "select count(distinct item_id) as n from marts.ml_item_daily_sales "
        "where units_sold > 0 and sale_date > (select max(sale_date) from marts.ml_item_daily_sales) - 365",
    )["n"].item()
    assert len(per_item) == active
    assert (forecasts["y_hat_lo_80"] <= forecasts["y_hat"] + 1e-9).all()
    assert (forecasts["y_hat_lo_95"] <= forecasts["y_hat_lo_80"]).all()
    assert (forecasts["y_hat_hi_80"] <= forecasts["y_hat_hi_95"]).all()
    assert forecasts["model_alias"].eq("champion").all()
    consumer = read(settings, "select count(*) as n from marts.item_demand_forecasts where is_latest")
    assert consumer["n"].item() == len(forecasts)


def test_demo_leaderboard_has_the_champion_beating_seasonal_naive(demo) -> None:
    _, summary = demo
    board = {row["model"]: row for row in summary.leaderboard}
    assert {"SeasonalNaive", "AutoETS", "Mean28", "Zero", "TrendcastXGB"} <= set(board)
    xgb = board["TrendcastXGB"]
    assert xgb["wrmsse"] < 0.98 * board["SeasonalNaive"]["wrmsse"]
    assert 0.85 <= xgb["bias"] <= 1.15


def test_rescoring_the_same_date_leaves_identical_rows(demo) -> None:
    settings, _ = demo
    lineage = ["written_at", "mlflow_run_id"]  # each rescoring is its own refit run (trendcast.forecasting.refit_log)
    before = read(settings, "select * from forecasts.item_daily_forecast").drop(columns=lineage)
    workflow.forecast(settings)
    after = read(settings, "select * from forecasts.item_daily_forecast").drop(columns=lineage)
    pd.testing.assert_frame_equal(
        before.sort_values(FORECAST_KEY).reset_index(drop=True), after.sort_values(FORECAST_KEY).reset_index(drop=True)
    )


def test_corrupted_features_stop_the_pipeline_and_leave_forecasts(demo) -> None:
    settings, _ = demo
    before = read(settings, "select * from forecasts.item_daily_forecast order by forecast_date, item_id, target_date")
    summary = run_demo(settings, seed=3, n_lines=40_000, corrupt="negative_sales")
    assert summary.gate_failed
    assert [s.step for s in summary.steps] == ["generate", "ingest", "dbt build", "validate"]
    alert = (settings.state_path / "outbox").glob("*data-validation-failed*.eml")
    assert summary.alert_path and any(str(p) == summary.alert_path for p in alert)
    after = read(settings, "select * from forecasts.item_daily_forecast order by forecast_date, item_id, target_date")
    pd.testing.assert_frame_equal(before, after)


def test_the_salt_reaches_no_file_of_the_state_dir_but_its_own(demo) -> None:
    """After the whole demo (dbt logs and artifacts, MLflow runs and artifacts, reports, the outbox, the
    warehouse and its snapshot) the salt is only in ``secrets/``."""
    settings, _ = demo
    written = {p.relative_to(settings.state_path).parts[0] for p in settings.state_path.rglob("*") if p.is_file()}
    assert {"secrets", "logs"} <= written and len(written) >= 4, written  # an empty state dir proves nothing
    assert files_holding(settings.state_path, DEMO_SALT) == []
