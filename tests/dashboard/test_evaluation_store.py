"""ops.model_leaderboard and forecasts.item_backtest_forecast: shapes, idempotent writes, one run per write."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from trendcast.exceptions import SchemaContractError
from trendcast.forecasting import evaluation_store as store
from trendcast.forecasting.models.baselines import WindowMean, ZeroForecast
from trendcast.forecasting.workflow import leaderboard, run_backtest
from trendcast.outputs import ensure_output_tables
from trendcast.settings import Settings
from trendcast.warehouse import connect


def _panel(n_items: int = 5, days: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days_index = pd.date_range("2024-01-01", periods=days, freq="D")
    frames = [
        pd.DataFrame({"unique_id": f"item{i}", "ds": days_index, "y": rng.poisson(2 + i, size=days).astype(float)})
        for i in range(n_items)
    ]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def backtest():
    result, evaluation = run_backtest(_panel(), [ZeroForecast(), WindowMean(28)], horizon=14, n_folds=2)
    return result, leaderboard(result, evaluation)


def _read(settings: Settings, query: str) -> pd.DataFrame:
    with connect(settings) as conn:
        return pd.read_sql(sa.text(query), conn)


def test_rows_follow_the_table_contracts(backtest) -> None:
    result, board = backtest
    rows = store.leaderboard_rows(
        board,
        training_run_id="r1",
        cutoffs=result.cutoffs,
        horizon=14,
        target="item_demand",
        champion="Mean28",
        candidates={"Mean28": {"mlflow_run_id": "abc", "model_version": "3", "promoted": True, "decision": "ok"}},
    )
    assert list(rows.columns) == list(store.LEADERBOARD_COLUMNS)
    assert (
        rows.set_index("model").loc["Mean28", "is_champion"] and not rows.set_index("model").loc["Zero", "is_champion"]
    )
    assert rows["rank"].tolist() == [1, 2] and rows["wrmsse"].is_monotonic_increasing
    assert rows.set_index("model").loc["Mean28", "mlflow_run_id"] == "abc"
    assert rows.set_index("model").loc["Zero", "mlflow_run_id"] is None
    assert rows["cutoffs"].iat[0] == ",".join(f"{c:%Y-%m-%d}" for c in result.cutoffs)

    bt = store.backtest_rows(result.forecasts, training_run_id="r1")
    assert list(bt.columns) == list(store.BACKTEST_COLUMNS)
    assert len(bt) == 5 * 14 * 2 * 2  # items x horizon x folds x models
    assert bt["horizon"].between(1, 14).all()
    assert (bt["y_hat_lo_95"] <= bt["y_hat_lo_80"]).all() and (bt["y_hat_hi_80"] <= bt["y_hat_hi_95"]).all()
    with pytest.raises(SchemaContractError, match="wrmsse"):
        store.leaderboard_rows(board.drop(columns="wrmsse"), training_run_id="x", cutoffs=[], horizon=1, target="t")


def test_store_is_idempotent_per_run_and_per_cutoff(backtest, settings: Settings) -> None:
    result, board = backtest
    ensure_output_tables(settings)  # registers both tables with the other write-back tables
    run_id = store.store_evaluation(result, board, champion="Mean28", training_run_id="run-a", settings=settings)
    assert run_id == "run-a"
    first = _read(
        settings, "select * from forecasts.item_backtest_forecast order by cutoff, model, item_id, target_date"
    )
    store.store_evaluation(result, board, champion="Mean28", training_run_id="run-a", settings=settings)
    again = _read(
        settings, "select * from forecasts.item_backtest_forecast order by cutoff, model, item_id, target_date"
    )
    assert len(again) == len(first) == 5 * 14 * 2 * 2
    pd.testing.assert_frame_equal(first.drop(columns="written_at"), again.drop(columns="written_at"))
    board_rows = _read(settings, "select * from ops.model_leaderboard")
    assert len(board_rows) == 2 and set(board_rows["training_run_id"]) == {"run-a"}

    # a second training run adds its own leaderboard rows and replaces the backtests of the same cutoffs
    store.store_evaluation(result, board, champion="Zero", training_run_id="run-b", settings=settings)
    board_rows = _read(settings, "select training_run_id, model, is_champion from ops.model_leaderboard")
    assert len(board_rows) == 4
    champions = board_rows[board_rows["is_champion"]].set_index("training_run_id")["model"].to_dict()
    assert champions == {"run-a": "Mean28", "run-b": "Zero"}
    bt = _read(settings, "select training_run_id, count(*) as n from forecasts.item_backtest_forecast group by 1")
    assert bt.set_index("training_run_id")["n"].to_dict() == {"run-b": 5 * 14 * 2 * 2}


def test_backtest_rows_without_a_forecast_are_dropped(backtest) -> None:
    result, _ = backtest
    forecasts = result.forecasts.copy()
    forecasts.loc[forecasts.index[:3], "y_hat"] = np.nan  # e.g. SeasonalNaive on an item younger than a season
    rows = store.backtest_rows(forecasts, training_run_id="r")
    assert len(rows) == len(forecasts) - 3 and rows["y_hat"].notna().all()
