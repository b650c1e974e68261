"""Train and time the neural forecasters (LSTM, Transformer) on a CUDA device: Online Retail II benchmark.

Same panel, items, cutoffs (2011-09-15, 2011-10-13, 2011-11-10) and horizon (28) as ``bench/forecast.py``;
each model is refit at every cutoff (``backtest_splits``) and scored with
``trendcast.forecasting.metrics.evaluate`` (WRMSSE, bias, 80 % / 95 % coverage, …).

    python bench/neural_cuda.py                             # both models on CUDA -> bench/results/neural_cuda.json
    python bench/neural_cuda.py --device cpu --models LSTM  # the same on CPU, to compare
    python bench/neural_cuda.py --quick                     # 300 seeded items, a smoke run
    python bench/neural_cuda.py --set batch_size=1024 --set max_windows_per_series=64   # overrides

``--device cuda`` fails fast when torch sees no GPU (a CPU run must be asked for explicitly). The JSON records
the device name, torch/CUDA versions, per-fold metrics, fit and predict seconds per fold, best epochs and peak
GPU memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "neural_cuda.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/forecast.py owns the benchmark panel

logger = logging.getLogger("bench.neural_cuda")


def _parse_overrides(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _device_info(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"device": device, "torch": torch.__version__, "cuda": torch.version.cuda}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from forecast import CUTOFFS, DATA_DIR, HORIZON, build_panel, load_transactions, select_items

    from trendcast.forecasting.backtest import backtest_splits
    from trendcast.forecasting.metrics import evaluate
    from trendcast.forecasting.models.neural import LSTMForecaster, TransformerForecaster, resolve_device

    device = resolve_device(args.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda but torch sees no GPU (torch.cuda.is_available() is False); use --device cpu")
    panel, _ = build_panel(load_transactions(Path(args.data_dir or DATA_DIR)))
    items = select_items(panel)
    if args.quick:
        items = pd.Index(np.random.default_rng(0).choice(items, size=min(300, len(items)), replace=False))
    df = panel[panel["unique_id"].isin(items)].sort_values(["unique_id", "ds"]).reset_index(drop=True)
    logger.info("%d items, %d rows, device %s", len(items), len(df), device)

    overrides = {**_parse_overrides(args.set), "device": device}
    classes = {"LSTM": LSTMForecaster, "Transformer": TransformerForecaster}
    results: dict[str, Any] = {}
    for name in args.models:
        model = classes[name](**overrides)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(torch.device(device))
        frames, fit_s, predict_s, best_epochs = [], [], [], []
        for cutoff, train, valid in backtest_splits(df, list(CUTOFFS), horizon=HORIZON):
            t0 = time.perf_counter()
            model.fit(train)
            t1 = time.perf_counter()
            pred = model.predict(HORIZON)
            t2 = time.perf_counter()
            frames.append(valid.merge(pred, on=["unique_id", "ds"]).assign(cutoff=cutoff, model=name))
            fit_s.append(round(t1 - t0, 2))
            predict_s.append(round(t2 - t1, 2))
            best_epochs.append(model.best_epoch)
            logger.info(
                "%s %s: fit %.1f s, predict %.1f s, best epoch %s",
                name,
                f"{cutoff:%Y-%m-%d}",
                t1 - t0,
                t2 - t1,
                model.best_epoch,
            )
        ev = evaluate(pd.concat(frames, ignore_index=True), df[["unique_id", "ds", "y"]])
        folds = ev.summary[ev.summary["model"] == name].set_index("fold")
        results[name] = {
            "hyperparams": json.loads(model.hyperparams.model_dump_json()),
            "metrics": {
                fold: {k: round(float(v), 4) for k, v in row.drop("model").items()} for fold, row in folds.iterrows()
            },
            "fit_s": fit_s,
            "predict_s": predict_s,
            "best_epoch": best_epochs,
            "peak_gpu_mib": round(torch.cuda.max_memory_allocated(torch.device(device)) / 2**20, 1)
            if device.startswith("cuda")
            else None,
        }
        logger.info("%s: %s", name, json.dumps(results[name]["metrics"].get("mean")))
    return {
        "benchmark": {
            "items": int(len(items)),
            "quick": bool(args.quick),
            "cutoffs": list(CUTOFFS),
            "horizon": HORIZON,
        },
        "machine": _device_info(device),
        "models": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, cpu or auto")
    parser.add_argument("--models", nargs="+", default=["LSTM", "Transformer"], choices=["LSTM", "Transformer"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter override")
    parser.add_argument("--quick", action="store_true", help="300 seeded items")
    parser.add_argument("--data-dir", default=None, help="folder with the two Online Retail II parquet files")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
