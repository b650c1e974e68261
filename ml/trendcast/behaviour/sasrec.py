"""SASRec-style next-basket model: causal self-attention over a customer's baskets (Kang & McAuley 2018).

Shop purchases come in baskets whose items have no order, so the sequence elements are **baskets** (the mean of
their item embeddings plus a position embedding) rather than single items; at every position the model predicts
the items of the *next* basket with a full softmax over the catalogue (multi-target cross-entropy, output weights
tied to the item embeddings). Re-orders dominate this kind of shop, so the logits also get a learned, context-gated
"buy again" term (log of how often the customer bought the item so far, and whether it was in the latest basket),
a copy mechanism in the spirit of RepeatNet. Training is seeded, runs on CUDA when available, and stops early on
the validation split's NDCG@10 (second-to-last basket per customer, full ranking). torch is imported inside
functions only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from trendcast.behaviour.baskets import History, leave_last_out
from trendcast.behaviour.recommendations import evaluate

__all__ = ["SASRecConfig", "SASRecRecommender"]

log = logging.getLogger(__name__)


class SASRecConfig(BaseModel):
    """Hyperparameters (logged to MLflow as they are)."""

    model_config = ConfigDict(frozen=True)

    max_len: int = Field(20, description="Most recent baskets of a history the model reads.")
    basket_cap: int = Field(32, description="Items read per basket (larger baskets: a seeded sample).")
    dim: int = Field(64, description="Embedding and hidden size.")
    heads: int = Field(2, description="Attention heads.")
    blocks: int = Field(2, description="Transformer blocks.")
    dropout: float = Field(0.2, description="Dropout on basket embeddings and inside the blocks.")
    lr: float = Field(2e-3, description="AdamW learning rate.")
    weight_decay: float = Field(0.0, description="AdamW weight decay.")
    batch_size: int = Field(128, description="Sequences per step.")
    max_epochs: int = Field(30, description="Upper bound on epochs.")
    patience: int = Field(3, description="Epochs without a better validation NDCG@10 before stopping.")
    windows: int = Field(2, description="Training windows of max_len baskets taken from the end of long histories.")
    repeat: bool = Field(True, description="Add the gated buy-again term to the logits.")
    seed: int = Field(0, description="Seed for torch and numpy.")
    device: str | None = Field(None, description="cpu / cuda; default cuda when available.")


def _encode(histories: Sequence[History], length: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Histories as ``(n, length, cap)`` item ids + 1 (0 = padding), the last ``length`` baskets, left-padded."""
    out = np.zeros((len(histories), length, cap), dtype=np.int32)
    for row, history in enumerate(histories):
        tail = history[-length:]
        offset = length - len(tail)
        for j, basket in enumerate(tail):
            items = np.unique(basket)
            if len(items) > cap:
                items = rng.choice(items, cap, replace=False)
            out[row, offset + j, : len(items)] = items + 1
    return out


def _build_module(n_items: int, config: SASRecConfig) -> Any:
    import torch
    from torch import nn

    class SASRec(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, config.dim, padding_idx=0)
            self.item_bias = nn.Parameter(torch.zeros(n_items))
            self.positions = nn.Embedding(config.max_len, config.dim)
            self.dropout = nn.Dropout(config.dropout)
            layer = nn.TransformerEncoderLayer(
                config.dim,
                config.heads,
                dim_feedforward=config.dim * 2,
                dropout=config.dropout,
                batch_first=True,
                norm_first=True,
            )
            self.encoder = nn.TransformerEncoder(layer, config.blocks, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(config.dim)
            self.repeat_gate = nn.Linear(config.dim, 2)
            nn.init.normal_(self.items.weight, std=0.05)

        def forward(self, baskets: torch.Tensor) -> torch.Tensor:
            """``(B, L, cap)`` item ids + 1 -> hidden states ``(B, L, dim)``."""
            length = baskets.shape[1]
            present = (baskets > 0).float()
            sizes = present.sum(-1, keepdim=True)
            x = (self.items(baskets) * present.unsqueeze(-1)).sum(2) / sizes.clamp(min=1.0)
            pad = sizes.squeeze(-1) == 0
            x = self.dropout(x * config.dim**0.5 + self.positions.weight[-length:]) * (~pad).unsqueeze(-1)
            # Causal mask plus masked padding keys; each position may attend to itself, so no row is all -inf.
            causal = torch.ones(length, length, dtype=torch.bool, device=baskets.device).triu(1)
            blocked = causal.unsqueeze(0) | pad.unsqueeze(1)
            blocked = blocked & ~torch.eye(length, dtype=torch.bool, device=baskets.device).unsqueeze(0)
            mask = torch.zeros(blocked.shape, device=baskets.device).masked_fill(blocked, float("-inf"))
            return self.norm(self.encoder(x, mask=mask.repeat_interleave(config.heads, dim=0)))

        def logits(self, hidden: torch.Tensor, counts: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
            """Scores of every item; ``counts`` / ``last``: the customer's purchases so far / in the latest basket."""
            scores = hidden @ self.items.weight[1:].T + self.item_bias
            if config.repeat:
                gate = nn.functional.softplus(self.repeat_gate(hidden))
                scores = scores + gate[..., :1] * torch.log1p(counts) + gate[..., 1:] * last
            return scores

    return SASRec()


def _multi_hot(baskets: Any, n_items: int) -> Any:
    """``(B, L, cap)`` ids + 1 -> ``(B, L, n_items)`` 0/1 floats."""
    import torch

    hot = torch.zeros(*baskets.shape[:2], n_items + 1, device=baskets.device)
    hot.scatter_(2, baskets.long(), 1.0)
    return hot[..., 1:]


class SASRecRecommender:
    """Fit on training histories (with an internal validation split), score full item rankings."""

    name = "sasrec"

    def __init__(self, config: SASRecConfig | None = None) -> None:
        self.config = config or SASRecConfig()
        self.module: Any = None
        self.n_items = 0
        self.epochs_trained = 0
        self.best_valid_ndcg = float("nan")
        self.history: list[dict[str, float]] = []
        self.device = "cpu"

    def params(self) -> dict[str, Any]:
        return self.config.model_dump()

    def _training_windows(self, histories: Sequence[History], rng: np.random.Generator) -> np.ndarray:
        """Windows of max_len + 1 baskets (input = [:-1], target = [1:]) from the end of each history."""
        span = self.config.max_len + 1
        windows: list[History] = []
        for history in histories:
            for w in range(self.config.windows):
                end = len(history) - w * self.config.max_len
                if end < 2:
                    break
                windows.append(history[max(0, end - span) : end])
        return _encode(windows, span, self.config.basket_cap, rng)

    def fit(
        self,
        histories: Sequence[History],
        n_items: int,
        valid: tuple[Sequence[History], Sequence[np.ndarray]] | None = None,
    ) -> SASRecRecommender:
        """Train on ``histories``; early-stop on ``valid`` (default: their own last baskets).

        With the default, the model trains on every basket but the last of each customer and is validated on
        predicting that last basket from the earlier ones; the weights of the best epoch are kept.
        """
        import torch

        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        self.device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.n_items = n_items
        if valid is None:
            split = leave_last_out(histories)
            train_histories, valid = split.train_histories, (split.inputs, split.targets)
        else:
            train_histories = list(histories)
        windows = torch.from_numpy(self._training_windows(train_histories, rng))
        if not len(windows):
            raise ValueError("no customer has two or more baskets to learn from")
        self.module = _build_module(n_items, cfg).to(self.device)
        optimiser = torch.optim.AdamW(self.module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        best_state, best, stale = None, -1.0, 0
        for epoch in range(cfg.max_epochs):
            self.module.train()
            order = torch.from_numpy(rng.permutation(len(windows)))
            total, steps = 0.0, 0
            for start in range(0, len(order), cfg.batch_size):
                loss = self._loss(windows[order[start : start + cfg.batch_size]].to(self.device))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total, steps = total + loss.item(), steps + 1
            metrics = evaluate(self, valid[0], valid[1])
            self.history.append({"epoch": epoch + 1, "loss": total / max(steps, 1), **metrics})
            log.info(
                "sasrec epoch %d: loss %.4f, valid NDCG@10 %.4f", epoch + 1, total / max(steps, 1), metrics["ndcg@10"]
            )
            self.epochs_trained = epoch + 1
            if metrics["ndcg@10"] > best:
                best, stale = metrics["ndcg@10"], 0
                best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        if best_state is not None:
            self.module.load_state_dict(best_state)
        self.best_valid_ndcg = best
        return self

    def _loss(self, batch: Any) -> Any:
        """Multi-target cross-entropy of next-basket items at every position with a real input and target."""
        import torch

        inputs, targets = batch[:, :-1], batch[:, 1:]
        hidden = self.module(inputs)
        hot_in = _multi_hot(inputs, self.n_items)
        logits = self.module.logits(hidden, hot_in.cumsum(1), hot_in)
        target = _multi_hot(targets, self.n_items)
        sizes = target.sum(-1)
        keep = (sizes > 0) & ((inputs > 0).any(-1))
        log_probs = torch.log_softmax(logits[keep], dim=-1)
        return -((log_probs * target[keep]).sum(-1) / sizes[keep]).mean()

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Scores of every item as part of the next basket after each history (a dense users x items array)."""
        import torch

        if self.module is None:
            raise RuntimeError("fit the recommender first")
        rng = np.random.default_rng(self.config.seed)
        encoded = _encode(histories, self.config.max_len, self.config.basket_cap, rng)
        self.module.eval()
        out = np.empty((len(histories), self.n_items), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(encoded), 512):
                batch = torch.from_numpy(encoded[start : start + 512]).to(self.device)
                hidden = self.module(batch)[:, -1]
                hot = _multi_hot(batch, self.n_items)  # the same counts as in training: the baskets read
                logits = self.module.logits(hidden, hot.sum(1), hot[:, -1])
                out[start : start + len(batch)] = logits.float().cpu().numpy()
        return out

    def __getstate__(self) -> dict[str, Any]:
        # The torch module class is built at run time: pickle its weights (CPU tensors) and rebuild on load.
        state = dict(self.__dict__)
        if self.module is not None:
            state["module"] = {k: v.detach().cpu() for k, v in self.module.state_dict().items()}
        state["device"] = "cpu"
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("module")
        self.__dict__.update(state)
        self.module = None
        if weights is not None:
            self.module = _build_module(self.n_items, self.config)
            self.module.load_state_dict(weights)
            self.module.eval()

    def to_cpu(self) -> SASRecRecommender:
        """Move the weights to the CPU (for pickling into MLflow and scoring on machines without a GPU)."""
        if self.module is not None:
            self.module.to("cpu")
        self.device = "cpu"
        return self
