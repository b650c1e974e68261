"""Global PyTorch sequence forecasters (LSTM, Transformer encoder) with direct multi-horizon quantile output.

One network is trained on windows drawn from every series. Each window is divided by the mean of its observed
input days (+ ``scale_eps``) so lumpy series of very different volumes share one model; the log of that
scale is fed back as a static input. An encoder (LSTM or Transformer, reading the ``lookback`` days in
week-long steps: scaled sales, log sales, observed mask, calendar) summarises the window; a horizon-specific
projection of that summary plus the calendar of each target day (day of week, month, day of year, closeness
to Christmas) go through a small MLP shared across steps (MQ-RNN-style decoder). Per target day it emits a
point forecast (log link, Tweedie loss by default: its minimiser is the conditional mean, which is what RMSSE
rewards and keeps bias near 1, while lumpy orders weigh in linearly, not squared) and monotone quantiles
(pinball loss; a first value plus softplus increments, so they never cross).

Training holds out the last ``horizon`` days of every series for early stopping, then optionally refits from
scratch on all days for the best epoch count. Seeds, deterministic algorithms and a bounded thread count make
runs repeatable. torch is imported lazily so that importing this module stays cheap.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from trendcast.exceptions import ModelNotFoundError
from trendcast.forecasting.frames import ID_COL, TIME_COL
from trendcast.forecasting.models.base import QUANTILES, enforce_monotone, forecast_columns, quantile_columns
from trendcast.forecasting.models.neural_data import (
    N_CALENDAR_FEATURES,
    SeriesPanel,
    build_panel,
    calendar_features,
    last_windows,
    sample_windows,
)

__all__ = [
    "NeuralHyperParams",
    "NeuralForecaster",
    "LSTMForecaster",
    "TransformerForecaster",
    "resolve_device",
    "load_neural_forecaster",
]

logger = logging.getLogger(__name__)

_N_INPUT_FEATURES = 3 + N_CALENDAR_FEATURES  # scaled y, log1p(scaled y), observed mask, calendar
_WEIGHTS_FILE = "model.pt"
_META_FILE = "model.json"
_CONTEXT_FILE = "context.npz"


class NeuralHyperParams(BaseModel):
    """Hyperparameters of the neural forecasters (logged to MLflow as they are)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon: int = Field(
        28,
        ge=1,
        description="Days forecast directly by the multi-output head; predict(h) needs h <= horizon.",
    )
    lookback: int = Field(112, ge=7, description="Input window in days (e.g. 56 or 112); a multiple of patch_len.")
    patch_len: int = Field(
        7,
        ge=1,
        description="Days per encoder step: a whole week (7) makes CPU training ~7x cheaper; 1 = daily steps.",
    )
    hidden_size: int = Field(64, ge=4, description="LSTM hidden size / Transformer d_model, and decoder MLP width.")
    num_layers: int = Field(1, ge=1, description="Stacked LSTM layers / Transformer encoder layers.")
    num_heads: int = Field(4, ge=1, description="Attention heads (Transformer only); must divide hidden_size.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout in the encoder and decoder MLP.")
    learning_rate: float = Field(2e-3, gt=0.0, description="Adam learning rate.")
    weight_decay: float = Field(0.0, ge=0.0, description="Adam weight decay (L2).")
    batch_size: int = Field(256, ge=1, description="Windows per optimisation step.")
    max_epochs: int = Field(20, ge=1, description="Upper bound on epochs; early stopping usually ends sooner.")
    patience: int = Field(3, ge=1, description="Epochs without a better validation loss before stopping.")
    max_windows_per_series: int = Field(
        16,
        ge=1,
        description="Windows drawn per series and epoch (fresh draw every epoch; fewer if the series is short).",
    )
    scale_eps: float = Field(
        0.1, gt=0.0, description="Added to the input-window mean (units) so windows without sales can be scaled."
    )
    point_loss: Literal["mse", "poisson", "tweedie"] = Field(
        "tweedie",
        description=(
            "Loss of the point head; all are minimised by the conditional mean (what RMSSE rewards). 'poisson' and "
            "'tweedie' (power 1.5, log link, as XGBoost's) grow linearly, not quadratically, in lumpy orders."
        ),
    )
    point_weight: float = Field(1.0, ge=0.0, description="Weight of the point-head loss against the pinball loss.")
    point: Literal["mean", "median"] = Field(
        "mean", description="y_hat from the point head ('mean') or the 0.5 quantile ('median')."
    )
    volume_weight_power: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Weight each window's loss by its input-window mean to this power (1 ~ WRMSSE's weights).",
    )
    refit: bool = Field(
        False, description="After early stopping, retrain from scratch on all days for the best epoch count."
    )
    grad_clip: float = Field(1.0, gt=0.0, description="Gradient norm clipping threshold.")
    seed: int = Field(0, description="Seed of torch, numpy window sampling and weight initialisation.")
    device: str = Field("auto", description="'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.")
    num_threads: int = Field(
        1,
        ge=1,
        le=2,
        description="torch CPU threads in fit/predict. 1 by default: 2 on a busy 2-core box ran 10x slower.",
    )
    quantiles: tuple[float, ...] = Field(QUANTILES, description="Quantiles of the pinball head.")

    @model_validator(mode="after")
    def _check_shapes(self) -> NeuralHyperParams:
        if self.lookback % self.patch_len:
            raise ValueError(f"lookback ({self.lookback}) must be a multiple of patch_len ({self.patch_len})")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads})")
        return self


def resolve_device(device: str = "auto") -> str:
    """``'auto'`` becomes ``'cuda'`` when torch sees a GPU, else ``'cpu'``; other values pass through."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@contextmanager
def _torch_session(hp: NeuralHyperParams) -> Iterator[None]:
    """Bounded threads, deterministic kernels and a private RNG state, all restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(min(hp.num_threads, threads))
    # warn_only: a few CUDA kernels have no deterministic variant; CPU runs are bit-for-bit repeatable.
    torch.use_deterministic_algorithms(True, warn_only=True)
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(hp.seed)
            yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


@functools.cache
def _modules() -> SimpleNamespace:
    """The nn.Module classes, defined on first use so that torch is imported only when a model is built."""
    import math

    import torch
    from torch import nn

    def _patches(x: torch.Tensor, patch: int) -> torch.Tensor:
        """``[B, L, F]`` daily features -> ``[B, L / patch, patch * F]`` encoder steps."""
        return x.reshape(x.size(0), x.size(1) // patch, patch * x.size(2))

    class Decoder(nn.Module):
        """Horizon-specific projection of the context + per-step MLP over the target day's calendar."""

        def __init__(self, context_size: int, horizon: int, hidden: int, n_quantiles: int, dropout: float) -> None:
            super().__init__()
            self.horizon, self.hidden = horizon, hidden
            self.project = nn.Linear(context_size + 1, horizon * hidden)
            self.mlp = nn.Sequential(
                nn.Linear(hidden + N_CALENDAR_FEATURES, hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, 2 + n_quantiles - 1),
            )

        def forward(
            self, context: torch.Tensor, static: torch.Tensor, future_cal: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            z = self.project(torch.cat([context, static], dim=1)).view(-1, self.horizon, self.hidden)
            out = self.mlp(torch.cat([torch.relu(z), future_cal[:, : self.horizon]], dim=2))
            point = out[..., 0]
            # monotone quantiles: lowest one, then non-negative increments
            steps = nn.functional.softplus(out[..., 2:])
            quantiles = torch.cat([out[..., 1:2], out[..., 1:2] + torch.cumsum(steps, dim=2)], dim=2)
            return point, quantiles

    class LSTMNet(nn.Module):
        def __init__(self, hp: NeuralHyperParams) -> None:
            super().__init__()
            self.patch = hp.patch_len
            self.encoder = nn.LSTM(
                _N_INPUT_FEATURES * hp.patch_len,
                hp.hidden_size,
                num_layers=hp.num_layers,
                dropout=hp.dropout if hp.num_layers > 1 else 0.0,
                batch_first=True,
            )
            self.decoder = Decoder(hp.hidden_size, hp.horizon, hp.hidden_size, len(hp.quantiles), hp.dropout)

        def forward(
            self, x: torch.Tensor, static: torch.Tensor, future_cal: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            _, (h_n, _) = self.encoder(_patches(x, self.patch))
            return self.decoder(h_n[-1], static, future_cal)

    class PositionalEncoding(nn.Module):
        """Fixed sinusoidal encoding (Vaswani et al.) of the position inside the input window."""

        def __init__(self, d_model: int, max_len: int) -> None:
            super().__init__()
            position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
            div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, d_model)
            pe[:, 0::2] = torch.sin(position * div)
            pe[:, 1::2] = torch.cos(position * div)[:, : d_model // 2]
            self.register_buffer("pe", pe.unsqueeze(0), persistent=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.pe[:, : x.size(1)]

    class TransformerNet(nn.Module):
        def __init__(self, hp: NeuralHyperParams) -> None:
            super().__init__()
            d = hp.hidden_size
            self.patch = hp.patch_len
            self.embed = nn.Linear(_N_INPUT_FEATURES * hp.patch_len, d)
            self.position = PositionalEncoding(d, hp.lookback // hp.patch_len)
            layer = nn.TransformerEncoderLayer(
                d, hp.num_heads, dim_feedforward=2 * d, dropout=hp.dropout, batch_first=True, norm_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, hp.num_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d)
            self.decoder = Decoder(2 * d, hp.horizon, d, len(hp.quantiles), hp.dropout)

        def forward(
            self, x: torch.Tensor, static: torch.Tensor, future_cal: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            z = self.norm(self.encoder(self.position(self.embed(_patches(x, self.patch)))))
            # the last week (recency) and the mean over weeks (level) summarise the window
            return self.decoder(torch.cat([z[:, -1], z.mean(dim=1)], dim=1), static, future_cal)

    return SimpleNamespace(LSTMNet=LSTMNet, TransformerNet=TransformerNet)


class _Batcher:
    """Panel, mask and calendar as device tensors; turns (rows, end columns) into network inputs."""

    def __init__(self, panel: SeriesPanel, hp: NeuralHyperParams, device: str) -> None:
        import torch

        self.hp, self.device, self.n_cols = hp, device, panel.n_cols
        first_day = int(panel.end_day.min()) - panel.n_cols
        last_day = int(panel.end_day.max()) + hp.horizon + 1
        self.day0 = first_day
        self.values = torch.as_tensor(panel.values, device=device)
        self.mask = torch.as_tensor(panel.mask, device=device)
        self.end_day = torch.as_tensor(panel.end_day, device=device)
        self.calendar = torch.as_tensor(calendar_features(np.arange(first_day, last_day + 1)), device=device)
        self.in_offsets = torch.arange(-hp.lookback + 1, 1, device=device)
        self.out_offsets = torch.arange(1, hp.horizon + 1, device=device)

    def inputs(self, rows: Any, ends: Any, with_target: bool) -> dict[str, Any]:
        import torch

        rows = torch.as_tensor(rows, device=self.device)
        ends = torch.as_tensor(ends, device=self.device)
        in_cols = ends[:, None] + self.in_offsets
        r = rows[:, None]
        x, m = self.values[r, in_cols], self.mask[r, in_cols]
        scale = (x * m).sum(1) / m.sum(1).clamp(min=1.0) + self.hp.scale_eps
        xs = x / scale[:, None]
        last = self.end_day[rows][:, None] - (self.n_cols - 1)
        cal_in = self.calendar[last + in_cols - self.day0]
        out_cols = ends[:, None] + self.out_offsets
        cal_out = self.calendar[last + out_cols - self.day0]
        features = torch.cat([xs[..., None], torch.log1p(xs)[..., None], m[..., None], cal_in], dim=2)
        batch = {"x": features, "static": torch.log1p(scale)[:, None] / 5.0, "cal": cal_out, "scale": scale}
        if with_target:
            batch["y"] = self.values[r, out_cols] / scale[:, None]
        return batch


_TWEEDIE_POWER = 1.5
_MAX_LOG = 15.0  # exp(15) ~ 3e6 times the window mean: far above any real order


def _point_value(raw: Any, point_loss: str) -> Any:
    """Point forecast (scaled units) from the head's raw output: identity for MSE, exp for log-link losses."""
    return raw if point_loss == "mse" else raw.clamp(max=_MAX_LOG).exp()


def _window_loss(raw_point: Any, quantiles: Any, y: Any, levels: Any, hp: NeuralHyperParams) -> Any:
    """Per window: pinball over the quantiles + ``point_weight`` x the point head's loss."""
    diff = y[..., None] - quantiles
    pinball = (levels * diff).maximum((levels - 1.0) * diff).mean(dim=(1, 2))
    if hp.point_loss == "mse":
        point = ((raw_point - y) ** 2).mean(dim=1)
    else:
        r = raw_point.clamp(max=_MAX_LOG)
        if hp.point_loss == "poisson":
            point = (r.exp() - y * r).mean(dim=1)
        else:  # Tweedie deviance up to terms free of the prediction
            p = _TWEEDIE_POWER
            point = (-y * ((1 - p) * r).exp() / (1 - p) + ((2 - p) * r).exp() / (2 - p)).mean(dim=1)
    return pinball + hp.point_weight * point


def _window_weight(scale: Any, hp: NeuralHyperParams) -> Any:
    """WRMSSE weights items by recent units: ``scale ** volume_weight_power`` lets busy series count more."""
    return scale**hp.volume_weight_power if hp.volume_weight_power else scale.new_ones(scale.shape)


class NeuralForecaster:
    """Shared training loop, prediction and persistence; subclasses pick the encoder (``kind``)."""

    kind: str = ""
    name: str = ""

    def __init__(self, hyperparams: NeuralHyperParams | None = None, **overrides: Any) -> None:
        base = hyperparams or NeuralHyperParams()
        # rebuilt (not model_copy) so that overrides are validated too
        self.hyperparams = NeuralHyperParams(**{**base.model_dump(), **overrides}) if overrides else base
        self.device: str | None = None
        self.net: Any = None
        self.context: SeriesPanel | None = None
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None
        self.stopped_early = False
        self.fit_seconds: float | None = None

    # ---- training -------------------------------------------------------------------------------------------
    def _new_net(self) -> Any:
        cls = {"lstm": _modules().LSTMNet, "transformer": _modules().TransformerNet}[self.kind]
        return cls(self.hyperparams).to(self.device)

    def _run_epochs(
        self,
        batcher: _Batcher,
        panel: SeriesPanel,
        last_target_col: int,
        epochs: int,
        val: tuple[Any, Any] | None,
    ) -> Any:
        import torch

        hp = self.hyperparams
        net = self._new_net()
        optimizer = torch.optim.Adam(net.parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay)
        levels = torch.tensor(hp.quantiles, device=self.device)
        rng = np.random.default_rng(hp.seed)
        best, best_state, since_best = float("inf"), None, 0
        for epoch in range(1, epochs + 1):
            net.train()
            rows, ends = sample_windows(
                panel,
                lookback=hp.lookback,
                horizon=hp.horizon,
                last_target_col=last_target_col,
                max_per_series=hp.max_windows_per_series,
                rng=rng,
            )
            order = rng.permutation(len(rows))
            rows, ends = rows[order], ends[order]
            train_loss = torch.zeros((), device=self.device)  # summed on the device: no sync per step
            for start in range(0, len(rows), hp.batch_size):
                b = batcher.inputs(rows[start : start + hp.batch_size], ends[start : start + hp.batch_size], True)
                point, quantiles = net(b["x"], b["static"], b["cal"])
                weight = _window_weight(b["scale"], hp)
                loss = (_window_loss(point, quantiles, b["y"], levels, hp) * weight).sum() / weight.sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), hp.grad_clip)
                optimizer.step()
                train_loss += loss.detach() * len(b["y"])
            record = {"epoch": epoch, "train_loss": float(train_loss) / max(len(rows), 1)}
            if val is not None:
                record["val_loss"] = self._evaluate(net, batcher, *val, levels)
                if record["val_loss"] < best:
                    best, since_best, self.best_epoch = record["val_loss"], 0, epoch
                    best_state = copy.deepcopy(net.state_dict())
                else:
                    since_best += 1
            self.history.append(record)
            logger.info("%s epoch %d: %s", self.name, epoch, record)
            if val is not None and since_best >= hp.patience:
                self.stopped_early = True
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        return net

    def _evaluate(self, net: Any, batcher: _Batcher, rows: np.ndarray, ends: np.ndarray, levels: Any) -> float:
        import torch

        hp = self.hyperparams
        net.eval()
        total, weights = 0.0, 0.0
        with torch.no_grad():
            for start in range(0, len(rows), 4 * hp.batch_size):
                stop = start + 4 * hp.batch_size
                b = batcher.inputs(rows[start:stop], ends[start:stop], True)
                point, quantiles = net(b["x"], b["static"], b["cal"])
                weight = _window_weight(b["scale"], hp)
                total += float((_window_loss(point, quantiles, b["y"], levels, hp) * weight).sum())
                weights += float(weight.sum())
        return total / max(weights, 1e-12)

    def fit(self, df: pd.DataFrame) -> NeuralForecaster:
        """Train on a long frame (``unique_id, ds, y``; other columns are ignored)."""
        hp = self.hyperparams
        started = time.perf_counter()
        self.device = resolve_device(hp.device)
        self.history, self.best_epoch, self.stopped_early = [], None, False
        panel = build_panel(df, hp.lookback)
        with _torch_session(hp):
            batcher = _Batcher(panel, hp, self.device)
            last_col = panel.n_cols - 1
            val = last_windows(panel, horizon=hp.horizon, holdout=hp.horizon)
            if len(val[0]) == 0:
                logger.warning(
                    "%s: no series longer than %d days; training without early stopping",
                    self.name,
                    hp.horizon,
                )
                self.net = self._run_epochs(batcher, panel, last_col, hp.max_epochs, None)
            else:
                self.net = self._run_epochs(batcher, panel, last_col - hp.horizon, hp.max_epochs, val)
                if hp.refit:
                    epochs = self.best_epoch or hp.max_epochs
                    logger.info("%s: refitting on all days for %d epochs", self.name, epochs)
                    self.net = self._run_epochs(batcher, panel, last_col, epochs, None)
        self.net.eval()
        self.context = panel.tail(hp.lookback)
        self.fit_seconds = time.perf_counter() - started
        logger.info(
            "%s fitted on %d series in %.1f s on %s (best epoch %s)",
            self.name,
            len(panel.ids),
            self.fit_seconds,
            self.device,
            self.best_epoch,
        )
        return self

    # ---- prediction -----------------------------------------------------------------------------------------
    def predict(self, h: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast the ``h`` days after each series' last day (``future`` is not used: calendar only)."""
        import torch

        if self.net is None or self.context is None:
            raise ModelNotFoundError(f"{self.name} is not fitted: call fit() or from_artifact() first")
        hp = self.hyperparams
        if not 1 <= h <= hp.horizon:
            raise ValueError(f"{self.name} forecasts at most horizon={hp.horizon} days directly, got h={h}")
        panel = self.context
        with _torch_session(hp):
            batcher = _Batcher(panel, hp, self.device or "cpu")
            rows, ends = last_windows(panel, horizon=hp.horizon, holdout=0)
            points, quants = [], []
            self.net.eval()
            with torch.no_grad():
                for start in range(0, len(rows), 1024):
                    b = batcher.inputs(rows[start : start + 1024], ends[start : start + 1024], False)
                    point, quantiles = self.net(b["x"], b["static"], b["cal"])
                    point = _point_value(point, hp.point_loss)
                    points.append((point * b["scale"][:, None]).cpu().numpy())
                    quants.append((quantiles * b["scale"][:, None, None]).cpu().numpy())
        point = np.concatenate(points)[:, :h]
        quant = np.concatenate(quants)[:, :h]
        n = len(panel.ids)
        ends_dt = (panel.end_day.astype("datetime64[D]")).astype("datetime64[ns]")
        out = pd.DataFrame(
            {
                ID_COL: np.repeat(panel.ids, h),
                TIME_COL: np.repeat(ends_dt, h) + np.tile(np.arange(1, h + 1), n).astype("timedelta64[D]"),
            }
        )
        median = quant[..., list(hp.quantiles).index(0.5)] if 0.5 in hp.quantiles else point
        out["y_hat"] = np.clip(point if hp.point == "mean" else median, 0.0, None).reshape(-1).astype(float)
        qcols = quantile_columns(hp.quantiles)
        out[qcols] = np.clip(quant.reshape(-1, len(qcols)), 0.0, None).astype(float)
        return enforce_monotone(out, hp.quantiles)[forecast_columns(hp.quantiles)]

    # ---- persistence ----------------------------------------------------------------------------------------
    def to_artifact(self, directory: str | Path) -> Path:
        """Write weights (``model.pt``), hyperparameters + metadata (``model.json``) and the input context."""
        import torch

        if self.net is None or self.context is None:
            raise ModelNotFoundError(f"{self.name} is not fitted: nothing to save")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in self.net.state_dict().items()}, path / _WEIGHTS_FILE)
        meta = {
            "kind": self.kind,
            "name": self.name,
            "hyperparams": json.loads(self.hyperparams.model_dump_json()),
            "best_epoch": self.best_epoch,
            "history": self.history,
        }
        (path / _META_FILE).write_text(json.dumps(meta, indent=2))
        c = self.context
        np.savez_compressed(
            path / _CONTEXT_FILE,
            ids=c.ids.astype(str),
            values=c.values,
            mask=c.mask,
            first_col=c.first_col,
            end_day=c.end_day,
        )
        return path

    @classmethod
    def from_artifact(cls, directory: str | Path, device: str = "auto") -> NeuralForecaster:
        """Load what :meth:`to_artifact` wrote (onto ``device``); ready to ``predict``."""
        import torch

        path = Path(directory)
        if not (path / _META_FILE).exists():
            raise ModelNotFoundError(f"no neural forecaster artifact in {path} (missing {_META_FILE})")
        meta = json.loads((path / _META_FILE).read_text())
        target = _KINDS[meta["kind"]] if cls is NeuralForecaster else cls
        if target.kind != meta["kind"]:
            raise ModelNotFoundError(f"{path} holds a {meta['kind']} model, not {target.kind}")
        model = target(NeuralHyperParams(**{**meta["hyperparams"], "device": device}))
        model.device = resolve_device(device)
        model.best_epoch, model.history = meta["best_epoch"], meta["history"]
        with _torch_session(model.hyperparams):
            model.net = model._new_net()
        state = torch.load(path / _WEIGHTS_FILE, map_location=model.device, weights_only=True)
        model.net.load_state_dict(state)
        model.net.eval()
        with np.load(path / _CONTEXT_FILE, allow_pickle=False) as z:
            model.context = SeriesPanel(
                ids=z["ids"].astype(object),
                values=z["values"],
                mask=z["mask"],
                first_col=z["first_col"],
                end_day=z["end_day"],
            )
        return model


class LSTMForecaster(NeuralForecaster):
    """Global LSTM encoder + direct multi-horizon quantile decoder."""

    kind = "lstm"
    name = "LSTM"


class TransformerForecaster(NeuralForecaster):
    """Global Transformer encoder (sinusoidal positions) + direct multi-horizon quantile decoder."""

    kind = "transformer"
    name = "Transformer"


_KINDS: dict[str, type[NeuralForecaster]] = {"lstm": LSTMForecaster, "transformer": TransformerForecaster}


def load_neural_forecaster(directory: str | Path, device: str = "auto") -> NeuralForecaster:
    """Load an LSTM or Transformer forecaster artifact, whichever the directory holds."""
    return NeuralForecaster.from_artifact(directory, device=device)
