"""Neural forecasters on a tiny synthetic panel: learning, quantiles, seeds, early stopping, save/load, device."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trendcast.exceptions import ModelNotFoundError
from trendcast.forecasting.models.base import Forecaster, forecast_columns, quantile_columns
from trendcast.forecasting.models.neural import (
    LSTMForecaster,
    NeuralHyperParams,
    TransformerForecaster,
    load_neural_forecaster,
    resolve_device,
)
from trendcast.forecasting.models.neural_data import build_panel, calendar_features, sample_windows

H = 14
N_DAYS = 182
#: Small and fast: a fit takes about a second on one CPU thread.
FAST = dict(
    horizon=H,
    lookback=28,
    hidden_size=16,
    num_heads=2,
    max_epochs=12,
    patience=3,
    batch_size=64,
    max_windows_per_series=24,
    learning_rate=3e-3,
    dropout=0.0,
    device="cpu",
)
#: Weekday profile Monday..Sunday: shut at the weekend, a Thursday peak.
PROFILE = np.array([1.0, 1.2, 1.1, 1.8, 1.4, 0.0, 0.0])


def weekly_panel(n_series: int = 12, n_days: int = N_DAYS, seed: int = 0) -> pd.DataFrame:
    """Series of different volumes (2 … 200 units/day), one weekly pattern, Poisson noise, ragged starts."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 30)))
        ds = pd.date_range(start, pd.Timestamp("2024-01-01") + pd.Timedelta(days=n_days - 1), freq="D")
        level = float(np.exp(rng.uniform(np.log(2), np.log(200))))
        y = rng.poisson(level * PROFILE[ds.dayofweek]).astype(float)
        parts.append(pd.DataFrame({"unique_id": f"item_{i:02d}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def split(df: pd.DataFrame, h: int = H) -> tuple[pd.DataFrame, pd.DataFrame]:
    cutoff = df["ds"].max() - pd.Timedelta(days=h)
    return df[df["ds"] <= cutoff], df[df["ds"] > cutoff]


@pytest.fixture(scope="module")
def weekly_df() -> pd.DataFrame:
    return weekly_panel()


@pytest.fixture(scope="module", params=[LSTMForecaster, TransformerForecaster], ids=["lstm", "transformer"])
def fitted(request: pytest.FixtureRequest, weekly_df: pd.DataFrame) -> tuple[object, pd.DataFrame]:
    train, _ = split(weekly_df)
    model = request.param(**FAST).fit(train)
    return model, model.predict(H)


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def test_learns_weekly_pattern_and_beats_flat_mean(
    fitted: tuple[object, pd.DataFrame], weekly_df: pd.DataFrame
) -> None:
    model, forecast = fitted
    train, test = split(weekly_df)
    flat = train[train["ds"] > train["ds"].max() - pd.Timedelta(days=28)].groupby("unique_id")["y"].mean()
    merged = test.merge(forecast, on=["unique_id", "ds"])
    assert len(merged) == len(test)
    model_rmse = _rmse(merged["y_hat"].to_numpy(), merged["y"].to_numpy())
    flat_rmse = _rmse(merged["unique_id"].map(flat).to_numpy(), merged["y"].to_numpy())
    assert model_rmse < 0.75 * flat_rmse, (model_rmse, flat_rmse)
    # weekend forecasts (true demand 0) stay far below weekday forecasts
    weekend = merged["ds"].dt.dayofweek >= 5
    assert merged.loc[weekend, "y_hat"].mean() < 0.3 * merged.loc[~weekend, "y_hat"].mean()
    bias = merged["y_hat"].sum() / merged["y"].sum()
    assert 0.8 < bias < 1.2
    assert isinstance(model, Forecaster)


def test_output_contract_and_monotone_quantiles(fitted: tuple[object, pd.DataFrame], weekly_df: pd.DataFrame) -> None:
    _, forecast = fitted
    assert list(forecast.columns) == forecast_columns()
    assert len(forecast) == weekly_df["unique_id"].nunique() * H
    q = forecast[quantile_columns()].to_numpy()
    assert np.isfinite(q).all() and (q >= 0).all()
    assert (np.diff(q, axis=1) >= 0).all()
    assert (forecast["y_hat"] >= 0).all()
    # intervals are not degenerate: the 80 % band has positive width on weekdays
    weekday = forecast["ds"].dt.dayofweek < 5
    assert (forecast.loc[weekday, "q900"] > forecast.loc[weekday, "q100"]).mean() > 0.9
    first = split(weekly_df)[0].groupby("unique_id")["ds"].max() + pd.Timedelta(days=1)
    assert (forecast.groupby("unique_id")["ds"].min() == first).all()


def test_same_seed_gives_identical_predictions(fitted: tuple[object, pd.DataFrame], weekly_df: pd.DataFrame) -> None:
    model, forecast = fitted
    train, _ = split(weekly_df)
    again = type(model)(**FAST).fit(train).predict(H)
    pd.testing.assert_frame_equal(forecast, again)
    other = type(model)(**{**FAST, "seed": 1}).fit(train).predict(H)
    assert not np.allclose(forecast["y_hat"], other["y_hat"])


def test_save_load_round_trip(fitted: tuple[object, pd.DataFrame], tmp_path) -> None:
    model, forecast = fitted
    model.to_artifact(tmp_path / "m")
    for loaded in (
        type(model).from_artifact(tmp_path / "m", device="cpu"),
        load_neural_forecaster(tmp_path / "m"),
    ):
        assert type(loaded) is type(model)
        assert loaded.hyperparams.model_dump(exclude={"device"}) == model.hyperparams.model_dump(exclude={"device"})
        pd.testing.assert_frame_equal(loaded.predict(H), forecast)
    short = model.predict(7)
    assert len(short) == len(forecast) // 2
    with pytest.raises(ValueError, match="horizon"):
        model.predict(H + 1)


def test_early_stopping_triggers() -> None:
    # pure noise: nothing to learn, the validation loss stops improving after a few epochs
    rng = np.random.default_rng(3)
    ds = pd.date_range("2024-01-01", periods=120, freq="D")
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b", "c"], len(ds)),
            "ds": np.tile(ds, 3),
            "y": rng.poisson(5.0, 3 * len(ds)),
        }
    ).astype({"y": float})
    model = LSTMForecaster(**{**FAST, "max_epochs": 60, "patience": 2, "learning_rate": 1e-2, "hidden_size": 32})
    model.fit(df)
    assert model.stopped_early
    assert len(model.history) < 60
    assert len(model.history) == model.best_epoch + 2
    assert all("val_loss" in r for r in model.history)


def test_refit_uses_best_epoch_count(weekly_df: pd.DataFrame) -> None:
    train, _ = split(weekly_df)
    model = LSTMForecaster(**{**FAST, "max_epochs": 3, "refit": True}).fit(train)
    assert model.best_epoch is not None
    refit_records = [r for r in model.history if "val_loss" not in r]
    assert len(refit_records) == model.best_epoch


def test_cpu_chosen_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cuda:1") == "cuda:1"
    df = weekly_panel(n_series=2, n_days=70)
    model = LSTMForecaster(**{**FAST, "device": "auto", "max_epochs": 1}).fit(df)
    assert model.device == "cpu"
    assert next(model.net.parameters()).device.type == "cpu"


def test_thread_count_restored() -> None:
    import torch

    before = torch.get_num_threads()
    LSTMForecaster(**{**FAST, "max_epochs": 1}).fit(weekly_panel(n_series=2, n_days=70))
    assert torch.get_num_threads() == before


def test_hyperparams_validated_and_errors() -> None:
    with pytest.raises(ValueError, match="multiple of patch_len"):
        NeuralHyperParams(lookback=30, patch_len=7)
    with pytest.raises(ValueError):
        NeuralHyperParams(num_threads=8)
    with pytest.raises(ValueError):
        LSTMForecaster(num_threads=8)  # overrides are validated too
    assert LSTMForecaster(NeuralHyperParams(lookback=56), hidden_size=32).hyperparams.lookback == 56
    assert NeuralHyperParams.model_fields["lookback"].description
    with pytest.raises(ModelNotFoundError):
        LSTMForecaster().predict(3)
    with pytest.raises(ModelNotFoundError):
        LSTMForecaster.from_artifact("/nonexistent/dir")


def test_calendar_and_windows() -> None:
    days = (
        np.array(["2024-12-23", "2024-12-25", "2024-12-26"], dtype="datetime64[D]") - np.datetime64("1970-01-01")
    ).astype(int)
    cal = calendar_features(days)
    assert cal[:, :7].argmax(1).tolist() == [0, 2, 3]  # Monday, Wednesday, Thursday
    assert cal[1, 11] == 1.0 and cal[0, 11] < 1.0 and cal[2, 11] == 0.0  # peaks on Christmas day, resets after
    df = weekly_panel(n_series=3, n_days=60)
    p = build_panel(df, lookback=14)
    assert p.values.shape[0] == 3 and p.mask.sum() == len(df)
    rows, ends = sample_windows(
        p,
        lookback=14,
        horizon=7,
        last_target_col=p.n_cols - 1,
        max_per_series=5,
        rng=np.random.default_rng(0),
    )
    assert len(rows) == 15
    assert (ends + 7 <= p.n_cols - 1).all() and (ends >= p.first_col[rows]).all()


def test_panel_fills_gaps_and_ignores_exogenous_columns() -> None:
    df = weekly_panel(n_series=2, n_days=40).assign(price=1.5)
    gappy = df.drop(index=[5, 6, 7])  # three missing days inside the first series
    p = build_panel(gappy, lookback=7)
    assert p.mask.sum() == len(df)
    row = list(p.ids).index("item_00")
    filled = p.values[row][p.mask[row] == 1]
    assert filled[5:8].tolist() == [0.0, 0.0, 0.0]
