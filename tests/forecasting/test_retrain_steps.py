"""The weekly retrain DAG's three tasks are ``trendcast train``'s three steps, and their evaluation is what the
dashboard's leaderboard shows (before, the retrain re-implemented training and never stored its evaluation)."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from trendcast.dashboard import create_app
from trendcast.forecasting import data, registry, workflow
from trendcast.orchestration import retrain
from trendcast.settings import get_settings
from trendcast.warehouse import connect

pytestmark = pytest.mark.filterwarnings("ignore:.*noload.*:DeprecationWarning", "ignore::UserWarning")

BASELINES = ("SeasonalNaive", "Mean28", "Zero")


def test_weekly_retrain_runs_the_train_steps_and_the_dashboard_shows_its_evaluation(
    monkeypatch: pytest.MonkeyPatch,
    make_panel,  # noqa: ANN001
) -> None:
    settings = get_settings()
    panel = make_panel(n_series=10, days=200)
    monkeypatch.setattr(data, "load_item_daily_sales", lambda *a, **k: panel)
    monkeypatch.setattr(settings, "forecast_horizon", 14)

    key = "scheduled__2024-02-04T03:00:00+00:00"
    step = retrain.backtest(key, settings, families=("xgb",), baselines=BASELINES, n_folds=2)
    assert step["models"] == 4 and len(step["cutoffs"]) == 2
    assert retrain.register(key, settings)["registered"] == {"xgb": "1"}
    promoted = retrain.promote(key, settings)

    champion = registry.get_model_info(workflow.TARGET, alias=registry.CHAMPION, settings=settings)
    assert promoted["champion"].startswith(champion.family)
    with connect(settings) as conn:
        stored = pd.read_sql(sa.text("select distinct training_run_id, cutoffs from ops.model_leaderboard"), conn)
    assert len(stored) == 1  # the retrain stored its evaluation, one training run

    board = TestClient(create_app(settings)).get("/api/overview").json()["leaderboard"]
    assert {row["model"] for row in board} == {"TrendcastXGB", *BASELINES}
    assert {row["training_run_id"] for row in board} == set(stored["training_run_id"])
    assert [row["model"] for row in board if row["is_champion"]] == [champion.family]
    xgb = next(row for row in board if row["model"] == "TrendcastXGB")
    assert xgb["model_version"] == "1" and xgb["mlflow_run_id"]
