"""MLflow tracking and champion/challenger promotion against a throwaway SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trendcast.exceptions import ModelNotFoundError
from trendcast.forecasting import mlflow_session, promotion, registry, run_log
from trendcast.forecasting.models.base import QUANTILES, quantile_columns
from trendcast.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore:.*noload.*:DeprecationWarning")

FOLDS = pd.to_datetime(["2011-02-05", "2011-02-12"])
OTHER_FOLDS = pd.to_datetime(["2011-02-12", "2011-02-19"])
SN_BASELINE = {"SeasonalNaive": {"wrmsse": 1.0, "bias": 0.99}}


class ScaledSeasonalNaive:
    """Repeats each series' last week times ``scale``; quantiles spread around it."""

    def __init__(self, name: str = "seasonal_naive", scale: float = 1.0) -> None:
        self.name = name
        self.scale = scale
        self.last_week: pd.DataFrame | None = None

    def fit(self, df: pd.DataFrame) -> ScaledSeasonalNaive:
        self.last_week = df.sort_values("ds").groupby("unique_id").tail(7).reset_index(drop=True)
        return self

    def predict(self, h: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        assert self.last_week is not None
        frames = []
        for uid, week in self.last_week.groupby("unique_id"):
            values = week["y"].to_numpy() * self.scale
            frames.append(
                pd.DataFrame(
                    {
                        "unique_id": uid,
                        "ds": week["ds"].max() + pd.to_timedelta(np.arange(1, h + 1), unit="D"),
                        "y_hat": np.resize(values, h),
                    }
                )
            )
        out = pd.concat(frames, ignore_index=True)
        for q, column in zip(QUANTILES, quantile_columns(), strict=True):
            out[column] = out["y_hat"] * (0.5 + q)
        return out


@pytest.fixture(scope="module")
def mlflow_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # One store for the module: creating MLflow's SQLite schema takes several seconds.
    return Settings(state_dir=tmp_path_factory.mktemp("mlflow_state"))


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    ds = pd.date_range("2011-01-01", periods=70, freq="D")
    return pd.DataFrame(
        {
            "unique_id": np.repeat(["A", "B", "C"], len(ds)),
            "ds": np.tile(ds, 3),
            "y": rng.poisson(3.0, 3 * len(ds)).astype(float),
        }
    )


def _fold_metrics(wrmsse: float, bias: float, cutoffs: pd.DatetimeIndex = FOLDS) -> pd.DataFrame:
    return pd.DataFrame({"cutoff": cutoffs, "wrmsse": [wrmsse + 0.01, wrmsse - 0.01], "bias": [bias, bias]})


def _log(
    target: str,
    model: ScaledSeasonalNaive,
    history: pd.DataFrame,
    settings: Settings,
    *,
    wrmsse: float,
    bias: float,
    cutoffs: pd.DatetimeIndex = FOLDS,
) -> str:
    overall = {"wrmsse": wrmsse, "bias": bias, "rmsse": wrmsse * 0.7}
    run_id = run_log.log_backtest_run(
        target,
        model.name,
        model,
        {"season_length": 7, "scale": model.scale},
        _fold_metrics(wrmsse, bias, cutoffs),
        overall,
        history,
        settings=settings,
    )
    return registry.get_model_info(target, run_id=run_id, settings=settings).version


def test_champion_challenger_flow(mlflow_settings: Settings, history: pd.DataFrame) -> None:
    target = "item_demand"
    with pytest.raises(ModelNotFoundError, match="trendcast-item-demand"):
        registry.load_champion(target, mlflow_settings)

    first = ScaledSeasonalNaive("seasonal_naive").fit(history)
    v1 = _log(target, first, history, mlflow_settings, wrmsse=0.90, bias=0.98)
    assert registry.get_model_info(target, alias="challenger", settings=mlflow_settings).version == v1 == "1"
    decision = promotion.promote_if_better(
        target, v1, {"wrmsse": 0.90, "bias": 0.98}, SN_BASELINE, margin=0.02, settings=mlflow_settings
    )
    assert decision.promoted, decision.reason
    assert decision.champion_version is None and decision.seasonal_naive_wrmsse == 1.0

    # Better, but by less than the 2 % margin (0.90 * 0.98 = 0.882): the alias stays.
    close = ScaledSeasonalNaive("mean_28", scale=1.01).fit(history)
    v2 = _log(target, close, history, mlflow_settings, wrmsse=0.89, bias=1.0)
    decision = promotion.promote_if_better(target, v2, None, SN_BASELINE, margin=0.02, settings=mlflow_settings)
    assert not decision.promoted
    assert decision.champion_version == "1" and decision.champion_wrmsse == pytest.approx(0.90)
    assert "champion v1" in decision.reason
    assert registry.get_model_info(target, settings=mlflow_settings).version == "1"
    assert registry.get_model_info(target, alias="challenger", settings=mlflow_settings).version == v2

    # Far better WRMSSE but biased low: rejected.
    shrunk = ScaledSeasonalNaive("xgboost_l1", scale=0.5).fit(history)
    v3 = _log(target, shrunk, history, mlflow_settings, wrmsse=0.60, bias=0.40)
    decision = promotion.promote_if_better(
        target, v3, {"wrmsse": 0.60, "bias": 0.40}, SN_BASELINE, settings=mlflow_settings
    )
    assert not decision.promoted and "bias 0.40 outside [0.85, 1.15]" in decision.reason
    assert registry.get_model_info(target, settings=mlflow_settings).version == "1"

    # Clearly better and unbiased on the same folds: becomes champion.
    best = ScaledSeasonalNaive("xgboost_tweedie", scale=1.05).fit(history)
    v4 = _log(target, best, history, mlflow_settings, wrmsse=0.80, bias=1.03)
    decision = promotion.promote_if_better(
        target, v4, {"wrmsse": 0.80, "bias": 1.03}, SN_BASELINE, settings=mlflow_settings
    )
    assert decision.promoted, decision.reason
    assert (decision.challenger_version, decision.champion_version) == ("4", "1")

    model, info = registry.load_champion(target, mlflow_settings)
    assert (info.name, info.version, info.alias, info.family) == (
        "trendcast-item-demand",
        "4",
        "champion",
        "xgboost_tweedie",
    )
    assert info.fold_cutoffs == ("2011-02-05", "2011-02-12")
    pd.testing.assert_frame_equal(model.predict(28), best.predict(28))

    from mlflow import MlflowClient

    uri = mlflow_session.tracking_uri(mlflow_settings)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = mlflow_session.registered_model_name(target)
    assert client.get_model_version(name, "1").tags["replaced_by"] == "4"
    assert client.get_model_version(name, "3").tags["promotion"] == "rejected"
    assert client.get_run(info.run_id).data.tags["trendcast.promotion"] == "promoted"
    decision_file = Path(
        client.download_artifacts(info.run_id, "promotion_decision.json", str(mlflow_settings.state_path))
    )
    assert json.loads(decision_file.read_text())["challenger_version"] == "4"

    # The same model served through the generic pyfunc interface, with the horizon as a param.
    import mlflow.pyfunc

    with mlflow_session.tracking_session(mlflow_settings):  # points models:/ URIs at the test store
        served = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    got = served.predict(pd.DataFrame({"unique_id": ["B"]}), params={"h": 7})
    expected = best.predict(7)
    pd.testing.assert_frame_equal(got, expected[expected["unique_id"] == "B"].reset_index(drop=True))


def test_first_model_must_beat_seasonal_naive_by_margin(mlflow_settings: Settings, history: pd.DataFrame) -> None:
    target = "first_model"
    model = ScaledSeasonalNaive().fit(history)
    version = _log(target, model, history, mlflow_settings, wrmsse=0.99, bias=1.0)
    decision = promotion.promote_if_better(target, version, None, SN_BASELINE, margin=0.02, settings=mlflow_settings)
    assert not decision.promoted and "SeasonalNaive" in decision.reason
    with pytest.raises(ModelNotFoundError, match="no alias @champion"):
        registry.load_champion(target, mlflow_settings)
    with pytest.raises(ValueError, match="SeasonalNaive"):
        promotion.promote_if_better(target, version, None, {"AutoETS": {"wrmsse": 0.9}}, settings=mlflow_settings)


def test_champion_on_other_folds_needs_reevaluation(mlflow_settings: Settings, history: pd.DataFrame) -> None:
    target = "weekly_refit"
    model = ScaledSeasonalNaive().fit(history)
    v1 = _log(target, model, history, mlflow_settings, wrmsse=0.90, bias=1.0)
    assert promotion.promote_if_better(target, v1, None, SN_BASELINE, settings=mlflow_settings).promoted

    v2 = _log(target, model, history, mlflow_settings, wrmsse=0.70, bias=1.0, cutoffs=OTHER_FOLDS)
    decision = promotion.promote_if_better(target, v2, None, SN_BASELINE, settings=mlflow_settings)
    assert not decision.promoted and "other folds" in decision.reason
    assert registry.get_model_info(target, settings=mlflow_settings).version == v1

    # The caller re-evaluated the champion on the challenger's folds.
    rerun = {**SN_BASELINE, "champion": {"wrmsse": 0.75, "bias": 1.0}}
    decision = promotion.promote_if_better(target, v2, None, rerun, settings=mlflow_settings)
    assert decision.promoted and decision.champion_wrmsse == 0.75
    assert registry.get_model_info(target, settings=mlflow_settings).version == v2


def test_run_records_params_folds_dataset_plot_under_state_dir(mlflow_settings: Settings) -> None:
    from mlflow import MlflowClient

    rng = np.random.default_rng(0)
    ds = pd.date_range("2010-01-01", periods=400, freq="D")
    big = pd.DataFrame(
        {
            "unique_id": np.repeat([f"I{i}" for i in range(30)], len(ds)),
            "ds": np.tile(ds, 30),
            "y": rng.poisson(1.0, 30 * len(ds)).astype(float),
        }
    )
    model = ScaledSeasonalNaive().fit(big)
    run_id = run_log.log_backtest_run(
        "run_contents",
        "seasonal_naive",
        model,
        {"season_length": 7, "trend": {"damped": True}},
        _fold_metrics(0.9, 1.0),
        {"wrmsse": 0.9, "bias": 1.0},
        big,
        settings=mlflow_settings,
        register=False,
    )
    uri = mlflow_session.tracking_uri(mlflow_settings)
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.data.params == {"season_length": "7", "trend.damped": "True"}
    assert [m.step for m in client.get_metric_history(run_id, "fold_wrmsse")] == [0, 1]
    assert [m.value for m in client.get_metric_history(run_id, "fold_wrmsse")] == pytest.approx([0.91, 0.89])
    assert run.data.metrics["wrmsse"] == 0.9
    assert json.loads(run.data.tags["trendcast.fold_cutoffs"]) == ["2011-02-05", "2011-02-12"]

    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "run_contents_train"
    assert dataset_input.dataset.digest == run_log._digest(big)
    assert json.loads(dataset_input.dataset.profile)["num_rows"] == run_log.MAX_DATASET_ROWS  # a sample
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"backtest.html", "dataset_profile.json"} <= artifacts

    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "trendcast/run_contents"
    assert experiment.artifact_location.startswith((mlflow_settings.state_path / "mlflow" / "artifacts").as_uri())
    assert not Path("mlruns").exists()  # nothing written relative to the cwd
