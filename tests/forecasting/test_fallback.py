"""A champion on every install: a baseline serves when the trained model fails promotion; a human can promote."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from trendcast.cli import app
from trendcast.forecasting import fallback, mlflow_session, registry, workflow
from trendcast.settings import get_settings
from trendcast.warehouse import connect

pytestmark = pytest.mark.filterwarnings("ignore:.*noload.*:DeprecationWarning", "ignore::UserWarning")

runner = CliRunner()


def test_pick_baseline_skips_biased_baselines() -> None:
    overall = {
        "SeasonalNaive": {"wrmsse": 1.30, "bias": 0.98},
        "Zero": {"wrmsse": 1.00, "bias": 0.0},
        "Mean28": {"wrmsse": 1.10, "bias": 0.90},
    }
    assert fallback.pick_baseline(overall, ["SeasonalNaive", "Zero", "Mean28"]) == "Mean28"
    assert fallback.pick_baseline({"Zero": {"wrmsse": 1.0, "bias": 0.0}, **{"A": {"bias": 0.5}}}, ["Zero", "A"]) == "A"


def test_short_history_items_get_a_window_mean_instead_of_nan(make_panel) -> None:  # noqa: ANN001
    history = make_panel(n_series=2, days=60)
    young = pd.DataFrame({"unique_id": "new", "ds": history["ds"].max() - pd.to_timedelta([2, 1, 0], "D"), "y": 4.0})
    history = pd.concat([history, young], ignore_index=True)
    (model,) = workflow.build_models(["SeasonalNaive"])
    raw = model.fit(history).predict(7)
    assert raw.loc[raw["unique_id"] == "new", "y_hat"].isna().any()
    filled = fallback.fill_missing_forecasts(raw, history, 7)
    assert len(filled) == 21 and np.isfinite(filled.drop(columns=["unique_id", "ds"]).to_numpy()).all()
    assert filled.loc[filled["unique_id"] == "new", "y_hat"].tolist() == [4.0] * 7
    kept = filled[filled["unique_id"] != "new"].sort_values(["unique_id", "ds"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, raw[raw["unique_id"] != "new"].reset_index(drop=True))


def test_fresh_install_serves_a_baseline_when_the_trained_model_fails_promotion(
    monkeypatch: pytest.MonkeyPatch,
    make_panel,  # noqa: ANN001
) -> None:
    monkeypatch.setenv("TRENDCAST_PROMOTION_MARGIN", "0.9")  # XGB must beat SeasonalNaive by 90 %: it cannot
    get_settings.cache_clear()
    settings = get_settings()
    panel = make_panel(n_series=12, days=240)
    report = workflow.train(settings, families=("xgb",), baselines=("SeasonalNaive", "Zero", "Mean28"), frame=panel)

    board = {row["model"]: row for row in report.leaderboard}
    unbiased = [m for m in ("SeasonalNaive", "Mean28") if 0.85 <= board[m]["bias"] <= 1.15]
    best = min(unbiased, key=lambda m: board[m]["wrmsse"])
    assert report.champion == best and report.fallback
    rejected, served = report.decisions
    assert not rejected["promoted"] and "not 90% below SeasonalNaive's" in rejected["reason"]
    assert served["fallback"] and served["promoted"]
    assert served["reason"].startswith("trained TrendcastXGB failed promotion: wrmsse ")
    assert (
        f"; serving baseline {best} (wrmsse {board[best]['wrmsse']:.3f}, bias {board[best]['bias']:.2f})"
        in served["reason"]
    )

    info = registry.get_model_info(workflow.TARGET, settings=settings)
    assert info.family == best and info.fallback and info.version == "2"
    # the trained model stays @challenger; the baseline is no challenger
    assert registry.get_model_info(workflow.TARGET, alias="challenger", settings=settings).version == "1"
    with mlflow_session.tracking_session(settings) as client:
        version = client.get_model_version(info.name, info.version)
    assert version.tags["promotion"] == "baseline_fallback" and "serving baseline" in version.description

    with connect(settings) as conn:
        rows = pd.read_sql(
            sa.text("select model, is_champion, is_candidate, promoted, decision from ops.model_leaderboard"), conn
        ).set_index("model")
    assert rows["is_champion"].sum() == 1 and bool(rows.loc[best, "is_champion"])
    assert not rows.loc[best, "is_candidate"] and rows.loc[best, "decision"] == served["reason"]
    assert bool(rows.loc["TrendcastXGB", "is_candidate"]) and not rows.loc["TrendcastXGB", "promoted"]

    # The daily forecast serves the baseline, including an item launched two days ago.
    young = pd.DataFrame({"unique_id": "new", "ds": panel["ds"].max() - pd.to_timedelta([1, 0], "D"), "y": 2.0})
    monkeypatch.setattr(workflow, "load_item_daily_sales", lambda *a, **k: pd.concat([panel, young]))
    done = workflow.forecast(settings)
    assert done.fallback and done.family == best and done.items == 13 and done.rows == 13 * 28
    with connect(settings) as conn:
        written = conn.execute(sa.text("select count(*), max(model_version) from forecasts.item_daily_forecast"))
        assert tuple(written.one()) == (13 * 28, "2")
        (run_id,) = conn.execute(sa.text("select distinct mlflow_run_id from forecasts.item_daily_forecast")).one()

    # Provenance: the rows name the daily refit's run (not the version's training run), linked to the version.
    assert run_id == done.mlflow_run_id != info.run_id
    with mlflow_session.tracking_session(settings) as client:
        refit = client.get_run(run_id)
    assert refit.data.tags["trendcast.kind"] == "daily_refit"
    assert (
        refit.data.tags["trendcast.refit_of_version"] == "2"
        and refit.data.tags["trendcast.refit_of_run"] == info.run_id
    )
    assert refit.data.params["data_end"] == str(panel["ds"].max().date()) == refit.data.params["forecast_date"]
    assert refit.data.params["series"] == "13" and refit.info.run_name.startswith(f"refit {best} v2 ")

    # A human decision: unknown names are one-line errors (exit 2), a known version becomes @champion.
    unknown = runner.invoke(app, ["promote", "nope", "1"])
    assert (
        unknown.exit_code == 2
        and "unknown registered model 'nope'; registered: trendcast-item-demand" in unknown.output
    )
    missing = runner.invoke(app, ["promote", "trendcast-item-demand", "9"])
    assert missing.exit_code == 2 and "has no version 9; versions: 1, 2" in missing.output
    assert "Traceback" not in unknown.output + missing.output
    chosen = runner.invoke(app, ["promote", "item_demand", "1", "--by", "ana", "--reason", "reviewed the drop"])
    assert chosen.exit_code == 0, chosen.output
    assert "v1 (TrendcastXGB), was v2; by ana: reviewed the drop" in chosen.output
    info = registry.get_model_info(workflow.TARGET, settings=settings)
    assert info.version == "1" and not info.fallback
    with mlflow_session.tracking_session(settings) as client:
        tags = client.get_model_version(info.name, "1").tags
        assert client.get_model_version(info.name, "2").tags["replaced_by"] == "1"
    assert (
        tags["promoted_by"] == "ana"
        and tags["promotion"] == "manual"
        and tags["promotion_reason"] == "reviewed the drop"
    )
