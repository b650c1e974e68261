"""Benchmark: latency of the dashboard's item data endpoint (``/api/items/{item_id}``) on Online Retail II.

The warehouse is real: ``trendcast ingest`` + ``trendcast build`` of the data set into a scratch state dir. The
forecast tables are then filled the way the pipeline fills them (``writeback.write_forecasts`` for the latest
forecast date, ``evaluation_store.store_evaluation`` for a 3-fold backtest) with fast baseline models (Mean28
as the served model; Mean28, Mean7 and Zero in the backtest), so the tables have their real sizes
without a long training run. The app is served by uvicorn on loopback and called over HTTP, one request at a
time, with a fresh read-only DuckDB connection per request as in production. Results:
``bench/results/dashboard.json``.

    python bench/dashboard.py                              # build into a temp dir, 300 items
    python bench/dashboard.py --state-dir /tmp/orii --keep # reuse / keep the warehouse
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = REPO.parent / "shared" / "datasets" / "online_retail_ii"
TRENDCAST = str(Path(sys.executable).with_name("trendcast"))
RESULTS = REPO / "bench" / "results" / "dashboard.json"


def build_warehouse(state: Path, dataset: Path) -> dict[str, float]:
    """Ingest and dbt-build Online Retail II into ``state`` (skipped when the feature mart exists)."""
    env = {**os.environ, "TRENDCAST_STATE_DIR": str(state), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    env.setdefault("TRENDCAST_PSEUDONYMISATION_SALT", "bench-dashboard")
    timings = {}
    for name, args in (("ingest", ["ingest", str(dataset)]), ("dbt build", ["build"])):
        started = time.perf_counter()
        subprocess.run([TRENDCAST, *args], env=env, check=True, capture_output=True)
        timings[name] = round(time.perf_counter() - started, 1)
        print(f"  {name}: {timings[name]} s", flush=True)
    return timings


def write_forecast_tables(settings: object) -> dict[str, float]:
    """Latest forecasts (Mean28) for every active item and a 3-fold baseline backtest, as the pipeline writes."""
    import pandas as pd

    from trendcast.forecasting import evaluation_store, writeback
    from trendcast.forecasting.data import data_cutoff, load_item_daily_sales
    from trendcast.forecasting.models.baselines import WindowMean, ZeroForecast
    from trendcast.forecasting.workflow import leaderboard, run_backtest

    timings = {}
    started = time.perf_counter()
    df = load_item_daily_sales(settings)
    cutoff = data_cutoff(df)
    recent = df[(df["ds"] > pd.Timestamp(cutoff) - pd.Timedelta(days=365)) & (df["y"] > 0)]
    active = df[df["unique_id"].isin(recent["unique_id"].unique())].reset_index(drop=True)
    timings["load features"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    model = WindowMean(28)
    model.fit(active)
    info = {"name": "bench-mean28", "version": "1", "alias": "champion", "run_id": "bench"}
    writeback.write_forecasts(
        model.predict(28), forecast_date=cutoff, model_info=info, dbt_invocation_id="bench", settings=settings
    )
    timings["write forecasts"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    models = [WindowMean(28), WindowMean(7), ZeroForecast()]
    result, evaluation = run_backtest(active[["unique_id", "ds", "y"]], models, horizon=28, n_folds=3)
    evaluation_store.store_evaluation(
        result, leaderboard(result, evaluation), champion="Mean28", training_run_id="bench", settings=settings
    )
    timings["backtest + store"] = round(time.perf_counter() - started, 1)
    print(f"  forecast tables: {timings}", flush=True)
    return timings


def serve(settings: object) -> tuple[str, object]:
    """The dashboard mounted under /trendcast, served by uvicorn on a loopback port in a thread."""
    import socket

    import uvicorn
    from fastapi import FastAPI

    from trendcast.dashboard import create_app

    root = FastAPI()
    root.mount("/trendcast", create_app(settings))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/trendcast", server


def percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values) * 1000
    return {
        "n": len(values),
        "median_ms": round(float(np.median(arr)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "max_ms": round(float(arr.max()), 1),
        "mean_ms": round(float(arr.mean()), 1),
    }


def measure(base: str, item_ids: list[str], repeats_pages: int = 5) -> dict:
    import httpx

    out: dict = {}
    with httpx.Client(timeout=60) as client:
        for item in item_ids[:5]:  # warm-up: imports, plotly templates, OS file cache
            client.get(f"{base}/api/items/{item}").raise_for_status()
        times, sizes, traces = [], [], []
        for item in item_ids:
            started = time.perf_counter()
            response = client.get(f"{base}/api/items/{item}")
            times.append(time.perf_counter() - started)
            response.raise_for_status()
            sizes.append(len(response.content))
            traces.append(response.json()["n_traces"])
        out["item_endpoint"] = {
            **percentiles(times),
            "median_kib": round(statistics.median(sizes) / 1024, 1),
            "items_with_forecast_and_backtests": sum(t == 9 for t in traces),
        }
        for name, path in (
            ("explorer_page", "/explorer"),
            ("overview_page", "/"),
            ("trends_page", "/trends"),
            ("item_search", "/api/items?q=heart&limit=50"),
        ):
            page_times = []
            for _ in range(repeats_pages):
                started = time.perf_counter()
                client.get(f"{base}{path}").raise_for_status()
                page_times.append(time.perf_counter() - started)
            out[name] = percentiles(page_times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--state-dir", type=Path, default=None, help="Reuse or keep the warehouse here.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary state dir.")
    parser.add_argument("--items", type=int, default=300, help="Items to request (random sample).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    state = args.state_dir or Path(tempfile.mkdtemp(prefix="trendcast-bench-dashboard-"))
    os.environ.setdefault("TRENDCAST_PSEUDONYMISATION_SALT", "bench-dashboard")
    from trendcast.settings import Settings
    from trendcast.warehouse import connect, row_count

    settings = Settings(state_dir=state)
    setup: dict = {}
    try:
        if not settings.duckdb_file.exists():
            print(f"building the Online Retail II warehouse in {state}", flush=True)
            setup["build"] = build_warehouse(state, args.dataset)
        with connect(settings) as conn:
            has_forecasts = (
                row_count(conn, "forecasts", "item_daily_forecast") > 0
                and row_count(conn, "forecasts", "item_backtest_forecast") > 0
            )
        if not has_forecasts:
            setup["forecast_tables"] = write_forecast_tables(settings)
        with connect(settings) as conn:
            sizes = {
                name: row_count(conn, *name.split("."))
                for name in (
                    "marts.ml_item_daily_sales",
                    "marts.ml_item_text",
                    "forecasts.item_daily_forecast",
                    "forecasts.item_backtest_forecast",
                )
            }
            import sqlalchemy as sa

            forecast_items = [
                r[0] for r in conn.execute(sa.text("select distinct item_id from forecasts.item_daily_forecast"))
            ]
            all_items = [r[0] for r in conn.execute(sa.text("select item_id from marts.ml_item_text"))]
        rng = np.random.default_rng(args.seed)
        # mostly items with forecasts (the explorer's normal case), a fifth without (discontinued items)
        n_with = min(len(forecast_items), int(args.items * 0.8))
        without = sorted(set(all_items) - set(forecast_items))
        sample = list(rng.choice(sorted(forecast_items), n_with, replace=False))
        sample += list(rng.choice(without, min(len(without), args.items - n_with), replace=False))
        rng.shuffle(sample)

        base, server = serve(settings)
        print(f"requesting {len(sample)} items from {base}", flush=True)
        measured = measure(base, [str(s) for s in sample])
        server.should_exit = True
    finally:
        if args.state_dir is None and not args.keep:
            shutil.rmtree(state, ignore_errors=True)

    result = {
        "benchmark": "dashboard item data endpoint on Online Retail II",
        "dataset": str(args.dataset.name),
        "endpoint": "GET /trendcast/api/items/{item_id} (actuals, latest forecast with 80/95 % bands, backtests)",
        "method": "uvicorn on loopback, sequential requests, new read-only DuckDB connection per request",
        "table_rows": sizes,
        "setup_seconds": setup,
        "results": measured,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 1),
            "note": "shared 2-core machine; other jobs were running",
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["results"], indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
