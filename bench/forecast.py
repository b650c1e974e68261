"""Forecasting benchmark on Online Retail II (issue 4) and a scale run on generated series.

Panel (fixed so results compare): both parquet files, the 2010-12-01 … 12-09 overlap dropped from the
2009_2010 file; product lines only (no ``C``/``A`` invoices, stock codes matching ``^\\d{5}[A-Za-z]{0,2}$``
kept **as is** (not upper-cased), price > 0, quantity > 0); units per stock code per day, zero-filled from each
item's first sale through 2011-12-08 (2011-12-09 is a partial day and dropped). Items: first sale at least 365
days before the first cutoff and some units in the 90 days up to it (2,407 items). Cutoffs (last training day)
2011-09-15, 2011-10-13, 2011-11-10; horizon 28 days.

    python bench/forecast.py                 # full benchmark -> bench/results/forecast_online_retail_ii.json
    python bench/forecast.py --quick         # 300 items, for a smoke run
    python bench/forecast.py --synthetic 10000   # wall time and peak memory on generated series
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO.parent / "shared" / "datasets" / "online_retail_ii"
RESULTS = REPO / "bench" / "results" / "forecast_online_retail_ii.json"
CUTOFFS = ("2011-09-15", "2011-10-13", "2011-11-10")
HORIZON = 28
END = "2011-12-08"
PRODUCT_CODE = r"\d{5}[A-Za-z]{0,2}"

logger = logging.getLogger("bench.forecast")


def load_transactions(data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """Both files concatenated, the overlap (2010-12-01 … 12-09) taken from the 2010_2011 file only."""
    old = pd.read_parquet(data_dir / "online_retail_ii_2009_2010.parquet")
    new = pd.read_parquet(data_dir / "online_retail_ii_2010_2011.parquet")
    old = old[old["InvoiceDate"] < new["InvoiceDate"].min().normalize()]
    return pd.concat([old, new], ignore_index=True)


def build_panel(tx: pd.DataFrame, *, end: str = END) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily units per stock code, zero-filled from the first sale to ``end``; also each sale day's mean unit price
    and number of orders (invoices), as the feature mart has them.

    Returns ``(panel, sale_days)``: panel ``unique_id, ds, y``; sale_days ``unique_id, ds, price, n_orders`` on sale
    days only.
    """
    from trendcast.forecasting.frames import fill_daily_gaps

    keep = (
        ~tx["Invoice"].str.startswith(("C", "A"))
        & tx["StockCode"].str.fullmatch(PRODUCT_CODE)
        & (tx["Price"] > 0)
        & (tx["Quantity"] > 0)
        & (tx["InvoiceDate"] < pd.Timestamp(end) + pd.Timedelta(days=1))
    )
    lines = tx.loc[keep, ["Invoice", "StockCode", "InvoiceDate", "Quantity", "Price"]]
    lines = lines.assign(unique_id=lines["StockCode"].astype(str), ds=lines["InvoiceDate"].dt.normalize())
    lines["revenue"] = lines["Quantity"] * lines["Price"]
    daily = lines.groupby(["unique_id", "ds"], as_index=False).agg(
        Quantity=("Quantity", "sum"), revenue=("revenue", "sum"), n_orders=("Invoice", "nunique")
    )
    daily["y"] = daily["Quantity"].astype(float)
    daily["n_orders"] = daily["n_orders"].astype(float)
    sale_days = daily.assign(price=daily["revenue"] / daily["Quantity"])[["unique_id", "ds", "price", "n_orders"]]
    panel = fill_daily_gaps(daily[["unique_id", "ds", "y"]], end=end)
    return panel, sale_days


def select_items(
    panel: pd.DataFrame, first_cutoff: str = CUTOFFS[0], *, min_days: int = 365, recent: int = 90
) -> pd.Index:
    """Items first sold at least ``min_days`` before the first cutoff with units in the ``recent`` days up to it."""
    c = pd.Timestamp(first_cutoff)
    first = panel.groupby("unique_id")["ds"].min()
    old_enough = first[first <= c - pd.Timedelta(days=min_days)].index
    window = panel[(panel["ds"] > c - pd.Timedelta(days=recent)) & (panel["ds"] <= c)]
    active = window.groupby("unique_id")["y"].sum()
    return old_enough.intersection(active[active > 0].index).sort_values()


# ---- models ---------------------------------------------------------------------------------------------
BASELINES = ("SeasonalNaive", "AutoETS", "Zero", "Mean28")
PEERS = ("AutoTheta",)
TRENDCAST = ("TrendcastXGB", "TrendcastLSTM", "TrendcastTransformer")
#: How the champion's combination weight and calibration are chosen (written to the results JSON).
SELECTION = (
    "Nothing is chosen on the scored folds. Every choice was made on unscored development cutoffs: 2011-07-21 and "
    "2011-08-18 (dev-2011), and from this round on also the same season one year earlier, 2010-09-16, 2010-10-14 "
    "and 2010-11-11 (dev-Q4-2010, the pre-Christmas ramp; mean WRMSSE on each). Tweedie objective (dev-2011 0.6319) "
    "over squared error (0.6397), variance power 1.5 over 1.2 (0.6345), depth 6 over 8 (0.6337), 26 origins 14 days "
    "apart over 52 origins 7 days apart (0.6327), and no mix with the 28-day mean: w * TrendcastXGB + (1 - w) * "
    "Mean28 with w picked inside each fit on its calibration window scored 0.6327. The champion is therefore one "
    "model, no ensemble weights. Inside every fit the bias factor and the conformal quantile table come from the "
    "calibration window (the 28 days before the cutoff, forecast by the model trained without them); per-fold "
    "values: models.TrendcastXGB.calibration. Adopted since: order-count features (orders per day over 28/91/364 "
    "days, units per order, from the mart's n_orders; history only): dev-2011 0.6306 vs 0.6319, dev-Q4-2010 0.9318 "
    "vs 0.9339. Tried and not adopted: (a) the bias factor's upper clip (it hits 1.2 on the scored folds): 1.3 or "
    "unclipped 0.6337 on dev-2011 and 0.9526 vs 0.9339 on dev-Q4-2010; weighting the ratio like WRMSSE 0.6403 to "
    "0.6658; lower clips score better only by forecasting less (1.1: 0.6289 at bias 0.867, 1.05: 0.6278 at bias "
    "0.847, no correction: 0.6279 at bias 0.848), a trade along the bias floor of 0.85, not a better model; (b) "
    "averaging seeds 0..3: 0.6319 (single seeds 0.6319, 0.6345, 0.6330, 0.6334); (c) refitting on all origins "
    "after calibrating: dev-2011 0.6315, dev-Q4-2010 0.9486 (the calibration's bias factor no longer fits the "
    "refitted model); (d) no recency decay of training origins: 0.6328 / 0.9284; (e) repeat-customer features "
    "(units of customers due to reorder within 28 days from their past intervals): 0.6319 on dev-2011; (f) 300 "
    "rounds at learning rate 0.05: 0.6310; (g) blending with the LSTM, 0.9 * XGB + 0.1 * LSTM: 0.6331. "
    "How far the bar is: ceiling.oracle_mean forecasts each item's true mean of the 28 scored days (perfect "
    "knowledge of every item's level, nothing of its daily lumps). On dev-2011 it scores 0.619 against the "
    "champion's 0.631, on dev-Q4-2010 0.891 against 0.932 (a model that knew every item's 28-day level would gain "
    "2-5 %), and on the scored folds 0.836 (computed after the fact, nothing chosen with it): the bar of 10 % below "
    "AutoETS (0.9 x 0.929 = 0.836) equals perfect foresight of every item's level."
)


def make_model(name: str, n_jobs: int):  # noqa: ANN201 - returns a Forecaster
    """Build a model by its leaderboard name."""
    from trendcast.forecasting.models import baselines, gbm, neural

    def named(model, name: str):  # noqa: ANN001, ANN202 - any Forecaster
        model.name = name
        return model

    factories = {
        "SeasonalNaive": lambda: baselines.seasonal_naive(7, n_jobs=n_jobs),
        "AutoETS": lambda: baselines.auto_ets(7, n_jobs=n_jobs),
        "AutoTheta": lambda: baselines.auto_theta(7, n_jobs=n_jobs),
        "Zero": lambda: baselines.ZeroForecast(28),
        "Mean28": lambda: baselines.WindowMean(28),
        "TrendcastXGB": lambda: gbm.GlobalXGBForecaster(name="TrendcastXGB", n_jobs=n_jobs),
        "TrendcastLSTM": lambda: named(neural.LSTMForecaster(num_threads=n_jobs), "TrendcastLSTM"),
        "TrendcastTransformer": lambda: named(neural.TransformerForecaster(num_threads=n_jobs), "TrendcastTransformer"),
    }
    if name not in factories:
        raise SystemExit(f"unknown model {name!r}; choose from {sorted(factories)}")
    return factories[name]()


#: statsforecast AutoETS(season 7) on this benchmark from the independent reference run (shared/FACTS.md).
REFERENCE_AUTOETS = {
    "wrmsse": 0.929,
    "rmsse": 0.681,
    "mase": 1.247,
    "wape": 1.158,
    "bias": 0.95,
    "seconds_for_3_folds": 300.0,
}


# ---- acceptance -------------------------------------------------------------------------------------------
def pick_champion(overall: pd.DataFrame, candidates: list[str]) -> str | None:
    """Lowest WRMSSE among ``candidates`` that are unbiased (0.85 <= bias <= 1.15)."""
    ok = overall.loc[[c for c in candidates if c in overall.index]]
    ok = ok[(ok["bias"] >= 0.85) & (ok["bias"] <= 1.15)]
    return None if ok.empty else str(ok["wrmsse"].idxmin())


def acceptance(
    overall: pd.DataFrame, times: dict[str, float], champion: str | None, cpu: dict[str, float] | None = None
) -> dict[str, object]:
    """The issue's bar for the champion, each check with its numbers.

    Speed is judged on wall time and, because the benchmark machine may be shared, also on CPU seconds.
    """
    if champion is None:
        return {"passed": False, "reason": "no unbiased trendcast model"}
    row = overall.loc[champion]
    checks: dict[str, object] = {"bias_in_0.85_1.15": bool(0.85 <= row["bias"] <= 1.15)}
    checks["coverage_80_in_0.75_0.85"] = bool(0.75 <= row["coverage_80"] <= 0.85)
    if "AutoETS" not in overall.index:
        # not run here (e.g. --models without it): compare with the independent reference run in FACTS.md
        ref = REFERENCE_AUTOETS
        checks["autoets_source"] = "reference run (shared/FACTS.md), not measured in this run"
        checks["wrmsse_vs_autoets"] = round(float(row["wrmsse"] / ref["wrmsse"]), 4)
        checks["wrmsse_10pct_below_autoets"] = bool(row["wrmsse"] <= 0.9 * ref["wrmsse"])
        checks["faster_than_autoets"] = bool(times[champion] < ref["seconds_for_3_folds"])
        if cpu and pd.notna(cpu.get(champion)):
            # AutoETS kept at least one core busy for its 300 s of wall time: 300 CPU seconds is a lower bound
            checks["less_cpu_than_autoets_reference_wall"] = bool(cpu[champion] < ref["seconds_for_3_folds"])
    if "AutoETS" in overall.index:
        checks["wrmsse_vs_autoets"] = round(float(row["wrmsse"] / overall.loc["AutoETS", "wrmsse"]), 4)
        checks["wrmsse_10pct_below_autoets"] = bool(row["wrmsse"] <= 0.9 * overall.loc["AutoETS", "wrmsse"])
        checks["faster_than_autoets"] = bool(times[champion] < times["AutoETS"])
        if cpu and pd.notna(cpu.get(champion)) and pd.notna(cpu.get("AutoETS")):
            checks["less_cpu_than_autoets"] = bool(cpu[champion] < cpu["AutoETS"])
    if "SeasonalNaive" in overall.index:
        checks["wrmsse_vs_seasonal_naive"] = round(float(row["wrmsse"] / overall.loc["SeasonalNaive", "wrmsse"]), 4)
        checks["wrmsse_25pct_below_seasonal_naive"] = bool(
            row["wrmsse"] <= 0.75 * overall.loc["SeasonalNaive", "wrmsse"]
        )
    checks["passed"] = all(v for k, v in checks.items() if isinstance(v, bool))
    return checks


def _round(d: dict[str, float]) -> dict[str, float]:
    return {k: (round(float(v), 4) if pd.notna(v) else None) for k, v in d.items()}


def leaderboard(overall: pd.DataFrame, times: dict[str, float], champion: str | None, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("model", "WRMSSE", "RMSSE", "MASE", "WAPE", "bias", "sc. pinball", "cov 80", "cov 95", "fit+predict s"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, r in overall.sort_values("wrmsse").iterrows():
        star = " *" if name == champion else ""
        table.add_row(
            f"{name}{star}",
            *(
                f"{r[c]:.3f}"
                for c in ("wrmsse", "rmsse", "mase", "wape", "bias", "scaled_pinball", "coverage_80", "coverage_95")
            ),
            f"{times.get(name, float('nan')):.1f}",
        )
    Console(width=160).print(table)


def oracle_mean_wrmsse(forecasts: pd.DataFrame, actuals: pd.DataFrame) -> dict[str, float]:
    """WRMSSE per fold and mean of the *oracle* that forecasts each item's true mean over the scored days.

    Not a model: it knows the future level of every item. It shows how much of the error is level (any model can
    chase) and how much is daily lumpiness (no level forecast removes), i.e. how far a WRMSSE bar can be pushed.
    """
    from trendcast.forecasting.metrics import evaluate
    from trendcast.forecasting.models.base import forecast_columns

    one = forecasts[forecasts["model"] == forecasts["model"].iloc[0]].copy()
    one["model"] = "OracleMean"
    one["y_hat"] = one.groupby(["cutoff", "unique_id"])["y"].transform("mean")
    for col in forecast_columns()[3:]:
        one[col] = one["y_hat"]
    summary = evaluate(one, actuals).summary
    return {str(r["fold"]): round(float(r["wrmsse"]), 4) for _, r in summary.iterrows()}


# ---- benchmark on Online Retail II ------------------------------------------------------------------------
def run_benchmark(args: argparse.Namespace) -> dict[str, object]:
    from trendcast.forecasting.backtest import rolling_origin_backtest
    from trendcast.forecasting.metrics import evaluate

    t0 = time.perf_counter()
    panel, sale_days = build_panel(load_transactions(Path(args.data_dir)))
    items = select_items(panel)
    if args.quick:
        items = pd.Index(np.random.default_rng(0).choice(items, size=min(args.quick_items, len(items)), replace=False))
    df = panel[panel["unique_id"].isin(items)].merge(sale_days, on=["unique_id", "ds"], how="left")
    df["n_orders"] = df["n_orders"].fillna(0.0)
    df = df.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    logger.info(
        "panel: %d series, %d rows; %d items selected, %d rows (%.1f s)",
        panel["unique_id"].nunique(),
        len(panel),
        len(items),
        len(df),
        time.perf_counter() - t0,
    )

    cache = Path(args.cache_dir) if args.cache_dir else None
    forecasts, timings, from_cache = [], [], set()
    calibration: dict[str, list[dict[str, object]]] = {}
    for name in args.models:
        cached = cache / f"{name}{'_quick' if args.quick else ''}.parquet" if cache else None
        if cached is not None and cached.exists():
            fc = pd.read_parquet(cached)
            tm = pd.read_parquet(cached.with_suffix(".timings.parquet"))
            logger.info("%s: forecasts read from cache %s", name, cached)
            from_cache.add(name)
            if cached.with_suffix(".calibration.json").exists():
                calibration[name] = json.loads(cached.with_suffix(".calibration.json").read_text())
        else:
            model = make_model(name, args.n_jobs)
            res = rolling_origin_backtest(df, [model], horizon=HORIZON, cutoffs=list(CUTOFFS))
            fc, tm = res.forecasts, res.timings
            calibration[name] = list(getattr(model, "calibration_log", []))
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                fc.to_parquet(cached)
                tm.to_parquet(cached.with_suffix(".timings.parquet"))
                if calibration[name]:
                    cached.with_suffix(".calibration.json").write_text(json.dumps(calibration[name]))
        forecasts.append(fc)
        timings.append(tm)
    fc_all = pd.concat(forecasts, ignore_index=True)
    tm_all = pd.concat(timings, ignore_index=True)
    ev = evaluate(fc_all, df[["unique_id", "ds", "y"]])
    overall = ev.overall()
    if "cpu_s" not in tm_all.columns:
        tm_all["cpu_s"] = np.nan
    times = (tm_all.groupby("model")["fit_s"].sum() + tm_all.groupby("model")["predict_s"].sum()).to_dict()
    cpu = tm_all.groupby("model")["cpu_s"].sum(min_count=1).to_dict()
    candidates = [m for m in overall.index if m.startswith("Trendcast")]
    champion = pick_champion(overall, candidates)
    models: dict[str, object] = {}
    for name in overall.index:
        folds = ev.summary[(ev.summary["model"] == name) & (ev.summary["fold"] != "mean")]
        tm = tm_all[tm_all["model"] == name]
        models[name] = {
            "mean": _round(overall.loc[name].to_dict()),
            "folds": {r["fold"]: _round(r[ev.summary.columns[2:]].to_dict()) for _, r in folds.iterrows()},
            "from_cache": name in from_cache,
            "fit_s": round(float(tm["fit_s"].sum()), 2),
            "predict_s": round(float(tm["predict_s"].sum()), 2),
            "cpu_s": round(float(tm["cpu_s"].sum()), 2) if tm["cpu_s"].notna().any() else None,
            "fit_predict_s_per_fold": {
                f"{c:%Y-%m-%d}": round(float(f + p), 2)
                for c, f, p in zip(tm["cutoff"], tm["fit_s"], tm["predict_s"], strict=True)
            },
        }
        if calibration.get(name):
            models[name]["calibration"] = calibration[name]
    per_item = ev.per_item[ev.per_item["model"] == champion] if champion else ev.per_item.iloc[:0]
    if args.per_item_csv and champion:
        per_item.to_csv(args.per_item_csv, index=False)
    leaderboard(
        overall, times, champion, f"Online Retail II, {len(items)} items, h={HORIZON}, cutoffs {', '.join(CUTOFFS)}"
    )
    return {
        "benchmark": {
            "dataset": "UCI Online Retail II (both files, overlap 2010-12-01..09 dropped from 2009_2010)",
            "panel": "product lines only (no C/A invoices, StockCode ^\\d{5}[A-Za-z]{0,2}$ as is, price>0, "
            "quantity>0); units per stock code per day, zero-filled from first sale through " + END,
            "selection": "first sale >= 365 days before the first cutoff and units in the 90 days up to it",
            "n_series_panel": int(panel["unique_id"].nunique()),
            "n_rows_panel": int(len(panel)),
            "n_items": int(len(items)),
            "quick": bool(args.quick),
            "cutoffs": list(CUTOFFS),
            "cutoff_convention": "last training day; scored on the 28 days after it",
            "horizon": HORIZON,
            "metrics": "WRMSSE (M5 weights: units in the last 28 training days), RMSSE/MASE (in-sample seasonal-7 "
            "scale), WAPE, bias = sum forecast / sum actual, scaled pinball over q 0.05..0.95 "
            "(/ in-sample seasonal MAE), coverage of [q100, q900] and [q025, q975]; mean over folds",
            "machine": {"cpus": os.cpu_count(), "n_jobs": args.n_jobs, "load_avg_at_end": os.getloadavg()},
        },
        "models": models,
        "champion": champion,
        "champion_selection": SELECTION,
        "ceiling": {"oracle_mean_wrmsse": oracle_mean_wrmsse(fc_all, df[["unique_id", "ds", "y"]])},
        "acceptance": acceptance(overall, times, champion, cpu),
        "champion_per_item_summary": per_item[["rmsse", "mase", "bias", "coverage_80"]].describe().round(4).to_dict()
        if champion
        else {},
        # per item, mean over folds: rmsse, mase, wape, bias, scaled pinball, coverage 80/95, M5 weight
        "champion_per_item": per_item.drop(columns="model").round(4).to_dict(orient="records") if champion else [],
    }


# ---- scale run on generated series -------------------------------------------------------------------------
def generate_panel(n_series: int, *, days: int = 730, seed: int = 0) -> pd.DataFrame:
    """Seeded count series: item level (log-normal), weekly profile, yearly wave, trend, launches, NB noise."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-03")
    lengths = rng.integers(400, days + 1, size=n_series)
    total = int(lengths.sum())
    item = np.repeat(np.arange(n_series), lengths)
    offset = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    day = offset + np.repeat(days - lengths, lengths)  # series start late (launches) and all end on the same day
    level = np.exp(rng.normal(0.0, 1.2, n_series))[item]
    weekly = np.array([1.2, 1.1, 1.0, 1.05, 1.0, 0.3, 0.35])
    phase = rng.uniform(0, 2 * np.pi, n_series)[item]
    season = 1 + 0.4 * np.sin(2 * np.pi * day / 365.25 + phase)
    trend = 1 + rng.normal(0, 0.3, n_series)[item] * day / days
    mu = level * weekly[(day + start.dayofweek) % 7] * season * np.clip(trend, 0.1, None)
    y = rng.negative_binomial(2, 2 / (2 + mu))
    return pd.DataFrame(
        {
            "unique_id": np.char.add("s", item.astype(str)),
            "ds": start + pd.to_timedelta(day, unit="D"),
            "y": y.astype(float),
        }
    )


def run_synthetic(args: argparse.Namespace) -> dict[str, object]:
    """Fit + predict the champion family and SeasonalNaive on N generated series: wall time, peak memory."""
    from trendcast.forecasting.backtest import rolling_origin_backtest

    df = generate_panel(args.synthetic, seed=0)
    logger.info("synthetic panel: %d series, %d rows", args.synthetic, len(df))
    out: dict[str, object] = {"n_series": args.synthetic, "n_rows": int(len(df)), "horizon": HORIZON, "folds": 1}
    for name in args.synthetic_models:
        tracemalloc.start()
        t = time.perf_counter()
        res = rolling_origin_backtest(df, [make_model(name, args.n_jobs)], horizon=HORIZON, n_folds=1)
        wall = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        ev = res.evaluate()
        out[name] = {
            "wall_s": round(wall, 2),
            "fit_s": round(float(res.timings["fit_s"].sum()), 2),
            "predict_s": round(float(res.timings["predict_s"].sum()), 2),
            "cpu_s": round(float(res.timings["cpu_s"].sum()), 2),
            "peak_traced_mib": round(peak / 2**20, 1),
            "wrmsse": round(float(ev.overall().loc[name, "wrmsse"]), 4),
        }
        logger.info("synthetic %s: %s", name, out[name])
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["machine"] = {"cpus": os.cpu_count(), "n_jobs": args.n_jobs, "load_avg_at_end": os.getloadavg()}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a seeded subset of items (smoke run)")
    parser.add_argument("--quick-items", type=int, default=300)
    parser.add_argument("--models", nargs="+", default=[*BASELINES, *TRENDCAST])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument(
        "--cache-dir", default=None, help="save each model's forecasts and timings here, and reuse them when present"
    )
    parser.add_argument("--output", default=None, help=f"JSON path (default {RESULTS.relative_to(REPO)})")
    parser.add_argument("--per-item-csv", default=None, help="write the champion's per-item metrics here")
    parser.add_argument("--synthetic", type=int, default=0, help="run on N generated series instead")
    parser.add_argument("--synthetic-models", nargs="+", default=["TrendcastXGB", "SeasonalNaive"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("numba", "statsforecast", "cmdstanpy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.path.insert(0, str(REPO / "ml"))

    if args.synthetic:
        result = run_synthetic(args)
        if args.output or not RESULTS.exists():
            path = Path(args.output) if args.output else RESULTS.with_name("forecast_synthetic.json")
            path.write_text(json.dumps(result, indent=2))
        else:  # the scale run is part of the same benchmark result
            path = RESULTS
            full = json.loads(RESULTS.read_text())
            full["synthetic"] = result
            RESULTS.write_text(json.dumps(full, indent=2))
        logger.info("wrote %s", path)
        return 0
    result = run_benchmark(args)
    path = Path(args.output) if args.output else RESULTS
    if path.exists() and not args.quick:
        old = json.loads(path.read_text())
        if "synthetic" in old:
            result["synthetic"] = old["synthetic"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    logger.info("wrote %s; champion %s; acceptance %s", path, result["champion"], result["acceptance"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
