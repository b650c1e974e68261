"""Accuracy on a generated shop with planted effects: generate -> ingest -> dbt build -> workflow steps.

* Trend signals find the planted cohorts (manifest ``trending_up`` / ``trending_down``: x4 / x0.25 of an
  item's share over the last 120 days) with asserted precision and recall, and the seasonal categories
  move the way the generator planted them.
* The XGBoost family beats SeasonalNaive in a rolling-origin backtest by stated MASE / WRMSSE bounds.

Thresholds sit below the values measured on this shop (see each test); the other shops measured while
designing :mod:`trendcast.trends` (300 items, seeds 42/7/11, ends in June, September, October and December)
gave precision >= 0.83 both ways, recall >= 0.87 rising and >= 0.53 falling (the table is in its docstring).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from trendcast.settings import Settings
from trendcast.warehouse import connect

pytestmark = pytest.mark.slow

SEED = 42
START = date(2023, 9, 4)
DAYS = 400  # ends 2024-10-07: an as-of date away from the December ramp


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, object]:
    from trendcast.dbt import build
    from trendcast.generate import generate
    from trendcast.ingestion import ingest_paths

    root = tmp_path_factory.mktemp("planted")
    settings = Settings(state_dir=root / "state", warehouse="duckdb", pseudonymisation_salt="planted")
    manifest = generate(root / "data", seed=SEED, n_items=300, start=START, days=DAYS, events=False)
    ingest_paths([root / "data"], settings=settings)
    build(settings, quiet=True)
    return settings, manifest


def _precision_recall(flagged: set[str], truth: set[str]) -> tuple[float, float]:
    hits = len(flagged & truth)
    return hits / max(1, len(flagged)), hits / len(truth)


def test_trend_signals_find_the_planted_cohorts(shop) -> None:  # noqa: ANN001
    from trendcast.forecasting import workflow

    settings, manifest = shop
    report = workflow.trends(settings)
    with connect(settings) as conn:
        signals = pd.read_sql(
            sa.text("select * from trends.item_trend_signals where as_of = :d"), conn, params={"d": report.as_of}
        )
    planted = manifest.planted
    items = signals[signals["level"] == "item"].set_index("entity_id")["direction"]
    up, down = set(planted.trending_up), set(planted.trending_down)
    rising, falling = set(items[items == "rising"].index), set(items[items == "falling"].index)
    assert report.rising == len(rising) and report.falling == len(falling)
    precision_up, recall_up = _precision_recall(rising, up)
    precision_down, recall_down = _precision_recall(falling, down)
    # Measured (seed 42, as of 2024-10-07, 281 items with a signal): rising 14 flagged, precision 0.93,
    # recall 0.87; falling 12 flagged, precision 0.83, recall 0.67 (15 planted each way).
    assert precision_up >= 0.8 and recall_up >= 0.75, (precision_up, recall_up)
    assert precision_down >= 0.7 and recall_down >= 0.5, (precision_down, recall_down)
    # Nearly all of the shop's other ~250 items stay stable (measured: 3 flagged).
    assert len((rising | falling) - up - down) <= 6

    categories = signals[signals["level"] == "category"].set_index("entity_id")
    assert categories["n_items"].sum() == len(items)
    # Garden demand peaks in June and christmas in late November (docs/generator.md): in the 16 weeks to early
    # October garden loses ground and christmas gains; the other categories hold the mix with trends on both
    # sides cancelling.
    assert categories.loc["garden", "direction"] == "falling"
    assert categories.loc["christmas", "direction"] == "rising"
    others = categories.drop(index=["garden", "christmas"])
    assert (others["direction"] == "stable").mean() >= 0.8


def test_champion_beats_seasonal_naive_on_the_generated_shop(shop) -> None:  # noqa: ANN001
    from trendcast.forecasting import workflow
    from trendcast.forecasting.data import load_item_daily_sales

    settings, _ = shop
    frame = load_item_daily_sales(settings)
    models = workflow.build_models(["SeasonalNaive", "xgb"])
    result, evaluation = workflow.run_backtest(frame, models, horizon=28, n_folds=2)
    board = workflow.leaderboard(result, evaluation).set_index("model")
    naive, xgb = board.loc["SeasonalNaive"], board.loc["TrendcastXGB"]
    # Measured (seed 42, 2 folds of 28 days): TrendcastXGB MASE 0.822, WRMSSE 0.856, bias 1.01;
    # SeasonalNaive MASE 0.977, WRMSSE 1.172.
    assert xgb["mase"] < 0.90 and xgb["mase"] < 0.92 * naive["mase"], board[["mase", "wrmsse"]]
    assert xgb["wrmsse"] < 0.95 and xgb["wrmsse"] < 0.85 * naive["wrmsse"], board[["mase", "wrmsse"]]
    assert 0.85 <= xgb["bias"] <= 1.15
    assert board.index[0] == "TrendcastXGB"
