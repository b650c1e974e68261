"""Customer-behaviour benchmark on Online Retail II (issue 8): propensity, recommendations, segments.

Online Retail II is ingested and built into a fresh DuckDB warehouse (state dir), then:

* purchase propensity (buys within 30 days): XGBoost (calibrated) against a recency rule and a logistic
  regression on log RFM, all fitted as of T = data cutoff - 30 days on four monthly snapshots and scored on the
  purchases in (T, T + 30]; ROC-AUC, PR-AUC, log loss, Brier, ECE. Then the registered model is trained as of
  the data cutoff, promoted, and every customer scored into ``scores.customer_purchase_propensity``;
* recommendations: ``trendcast.behaviour.recommendation_bench.benchmark_recommendations(settings)`` (HR@10 /
  NDCG@10 against popularity), recorded as "not available" when that module does not exist;
* segments: K-means on scaled RFM with k by silhouette (2..8), DBSCAN beside it, segment sizes of two runs
  on the same data (must be identical), written into ``scores.customer_segments``.

    python bench/behaviour.py                       # -> bench/results/behaviour_online_retail_ii.json
    python bench/behaviour.py --state /tmp/orii     # reuse a warehouse already built there
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO.parent / "shared" / "datasets" / "online_retail_ii"
RESULTS = REPO / "bench" / "results" / "behaviour_online_retail_ii.json"

logger = logging.getLogger("bench.behaviour")


def _timed(label: str, timings: dict[str, float], fn: Any, *args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    timings[label] = round(time.perf_counter() - started, 1)
    logger.info("%s: %.1f s", label, timings[label])
    return result


def _recommendations(settings: Any, sasrec: bool) -> dict[str, Any]:
    try:
        from trendcast.behaviour.recommendation_bench import benchmark_recommendations
    except ImportError as exc:
        return {"status": "not available", "reason": f"trendcast.behaviour.recommendation_bench: {exc}"}
    result = benchmark_recommendations(settings) if sasrec else benchmark_recommendations(settings, sasrec=False)
    return {"status": "ok" if sasrec else "ok (SASRec skipped: --no-sasrec)", **result}


def run(dataset: Path, state: Path, *, reuse: bool, sasrec: bool = True) -> dict[str, Any]:
    os.environ["TRENDCAST_STATE_DIR"] = str(state)
    os.environ.setdefault("TRENDCAST_PSEUDONYMISATION_SALT", "bench-behaviour-salt")
    from trendcast.behaviour.customer_features import data_cutoff, load_customer_activity
    from trendcast.behaviour.propensity import PropensityParams, evaluate_propensity, score_propensity, train_propensity
    from trendcast.behaviour.segments import run_segments
    from trendcast.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    timings: dict[str, float] = {}
    if not (reuse and settings.duckdb_file.exists()):
        from trendcast.dbt import build
        from trendcast.ingestion import ingest_paths

        _timed("ingest", timings, ingest_paths, [dataset], settings=settings)
        _timed("dbt_build", timings, build, settings, quiet=True)
    activity = _timed("load_activity", timings, load_customer_activity, settings)
    params = PropensityParams()
    evaluation = _timed("propensity_evaluate", timings, evaluate_propensity, activity, params)
    trained = _timed("propensity_train_register", timings, train_propensity, settings, params, activity=activity)
    scored = _timed("propensity_score", timings, score_propensity, settings, activity=activity)
    metrics = evaluation.metrics
    xgb = metrics["xgboost"]
    beats = {
        name: {"roc_auc": xgb["roc_auc"] > m["roc_auc"], "log_loss": xgb["log_loss"] < m["log_loss"]}
        for name, m in metrics.items()
        if name in ("logistic_rfm", "recency_rule")
    }
    first = _timed("segments_run_1", timings, run_segments, settings, activity=activity)
    second = _timed("segments_run_2", timings, run_segments, settings, activity=activity)
    recommendations = _timed("recommendations", timings, _recommendations, settings, sasrec)
    rec_ok = None
    if str(recommendations.get("status")).startswith("ok"):
        try:
            rec_ok = {
                name: recommendations[name]["hr@10"] > recommendations["popularity"]["hr@10"]
                and recommendations[name]["ndcg@10"] > recommendations["popularity"]["ndcg@10"]
                for name in recommendations
                if isinstance(recommendations[name], dict) and "hr@10" in recommendations[name] and name != "popularity"
            }
        except (KeyError, TypeError):
            rec_ok = None
    return {
        "benchmark": {
            "dataset": "online_retail_ii",
            "data_cutoff": data_cutoff(activity).isoformat(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "warehouse": "duckdb",
        },
        "propensity": {
            "protocol": (
                "label = any sale order in (T, T+30d]; features use activity <= T only; models fitted as of T on "
                "snapshots T-30, T-60, T-90, T-120 (labels end <= T): XGBoost on the three older ones, Platt-"
                "calibrated on T-30; baselines fitted on all four"
            ),
            "eval_cutoff": evaluation.eval_cutoff.isoformat(),
            "train_cutoffs": [c.isoformat() for c in evaluation.train_cutoffs],
            "n_customers": evaluation.n_customers,
            "base_rate": round(evaluation.base_rate, 4),
            "params": params.model_dump(),
            "models": {name: {k: round(v, 4) for k, v in m.items()} for name, m in metrics.items()},
            "baseline": "logistic_rfm",
            "xgboost_beats": beats,
            "registered": {
                "model": trained.model_name,
                "version": trained.model_version,
                "promoted": trained.promoted,
                "reason": trained.reason,
            },
            "scored_customers": scored.rows,
            "mean_probability": round(scored.mean_probability, 4),
        },
        "recommendations": recommendations,
        "segments": {
            "criterion": "k in 2..8 maximising the silhouette of K-means on log1p + standard-scaled RFM",
            "k": first.k,
            "silhouette": round(first.silhouette, 4),
            "sizes": first.sizes,
            "sizes_stable_across_reruns": first.sizes == second.sizes,
            "dbscan": {k: round(v, 4) for k, v in first.dbscan.items()},
            "rows_written": first.rows,
        },
        "acceptance": {
            "propensity_beats_baselines": all(all(v.values()) for v in beats.values()),
            "recommendations_beat_popularity": rec_ok,
            "segment_sizes_stable": first.sizes == second.sizes,
        },
        "timings_s": timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=Path(os.environ.get("TRENDCAST_DATASET_DIR", DATA_DIR)))
    parser.add_argument("--state", type=Path, default=None, help="State dir; reused when it holds a warehouse.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-sasrec", action="store_true", help="Recommendations without the SASRec model (quick).")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    state = args.state or Path(tempfile.mkdtemp(prefix="trendcast-bench-behaviour-"))
    try:
        result = run(args.dataset, state, reuse=args.state is not None, sasrec=not args.no_sasrec)
    finally:
        if args.state is None:
            shutil.rmtree(state, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(json.dumps(result["acceptance"], indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
