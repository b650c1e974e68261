"""Build a small but real warehouse once: the pipeline steps the demo runs, called one by one.

The steps are called directly (not through ``run_demo``) so the fixture does not depend on the demo's wiring;
AutoETS is left out of the baselines to keep the build around two minutes on a busy 2-core machine. Customer
scores (propensity, segments, recommendations) are planted through the real score writer: deterministic values
for the warehouse's real customers, so tests know exactly what the dashboard must show.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trendcast.settings import Settings

SEED = 3
N_LINES = 40_000
BASELINES = ("SeasonalNaive", "Mean28", "Zero")
SALT = "dashboard-test"
PROPENSITY_MODEL = ("trendcast-customer-purchase-propensity", "3")
RECOMMENDER_MODEL = ("trendcast-recommendations", "2")
SEGMENT_NAMES = ("high-value frequent", "regular", "lapsed")


def build_demo_warehouse(state_dir: Path, *, seed: int = SEED, n_lines: int = N_LINES) -> tuple[Settings, dict]:
    """Generate, ingest, dbt build, gate, train (+ evaluation store), forecast, trends and anomalies."""
    from trendcast import dbt, generate, ingestion
    from trendcast.anomalies import run_daily_anomalies
    from trendcast.forecasting import workflow
    from trendcast.quality.corruptions import demo_gate

    settings = Settings(state_dir=state_dir, pseudonymisation_salt=SALT)
    timings: dict[str, float] = {}

    def timed(name: str, func):  # noqa: ANN001, ANN202 - tiny local helper
        started = time.perf_counter()
        out = func()
        timings[name] = round(time.perf_counter() - started, 1)
        return out

    data_dir = state_dir / "landing"
    timed("generate", lambda: generate.generate(data_dir, seed=seed, n_lines=n_lines))
    timed("ingest", lambda: ingestion.ingest_paths([data_dir], settings=settings))
    timed("build", lambda: dbt.build(settings, quiet=True))
    gates = timed("validate", lambda: demo_gate(settings))
    assert gates[-1].passed, "the clean demo data must pass the gate"
    report = timed("train", lambda: workflow.train(settings, families=("xgb",), baselines=BASELINES))
    assert report.champion, f"no champion promoted: {report.decisions}"
    timed("forecast", lambda: workflow.forecast(settings))
    timed("trends", lambda: workflow.trends(settings))
    timed("anomalies", lambda: run_daily_anomalies(settings))
    scores = timed("scores", lambda: plant_customer_scores(settings))
    return settings, {"timings": timings, "train": report.model_dump(), "scores": scores}


def _lineage(model: tuple[str, str]) -> dict[str, str]:
    return {
        "model_name": model[0],
        "model_version": model[1],
        "mlflow_run_id": f"run-{model[0]}",
        "model_alias": "champion",
    }


def plant_customer_scores(settings: Settings, *, seed: int = SEED) -> dict[str, Any]:
    """Write propensity (two scoring dates), segments and top-10 recommendations of every customer of the mart.

    Returns what the dashboard must show for the latest date: customers, how many score above 0.5, the mean
    probability per segment, the ten most recommended items with their counts, and one customer's list.
    """
    from trendcast import warehouse
    from trendcast.behaviour.recommendation_jobs import RECOMMENDATIONS_TABLE
    from trendcast.behaviour.scores import PROPENSITY_TABLE, SEGMENTS_TABLE, write_scores

    with warehouse.connect(settings) as conn:
        rfm = pd.read_sql(
            "select customer_key, recency_days, frequency, monetary, as_of_date from marts.ml_customer_rfm", conn
        )
        items = pd.read_sql(
            "select item_id from marts.ml_item_daily_sales group by 1 order by sum(units_sold) desc, 1 limit 40", conn
        )["item_id"].tolist()
    scoring_date = pd.Timestamp(rfm["as_of_date"].max())
    rfm = rfm.drop(columns="as_of_date").sort_values("customer_key").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    n = len(rfm)
    segment = np.arange(n) % len(SEGMENT_NAMES)
    # probabilities skewed by segment so the by-segment bars differ: segment 0 high, 2 low
    probability = np.clip(rng.beta(2, 3, n) + np.array([0.35, 0.0, -0.25])[segment], 0.001, 0.999)
    decile = 10 - np.minimum(9, (pd.Series(probability).rank(method="first").to_numpy() - 1) * 10 // n).astype(int)
    base = rfm.assign(horizon_days=30, **_lineage(PROPENSITY_MODEL))
    old = base.assign(purchase_probability=np.full(n, 0.9), propensity_decile=1)
    write_scores(old, PROPENSITY_TABLE, scoring_date=scoring_date - pd.Timedelta(days=30), settings=settings)
    latest = base.assign(purchase_probability=probability, propensity_decile=decile)
    write_scores(latest, PROPENSITY_TABLE, scoring_date=scoring_date, settings=settings)

    segments = rfm.assign(
        segment_id=segment,
        segment_name=[SEGMENT_NAMES[s] for s in segment],
        n_segments=len(SEGMENT_NAMES),
        **{k: v for k, v in _lineage(("trendcast-customer-segments", "1")).items() if k != "model_alias"},
    )
    write_scores(segments, SEGMENTS_TABLE, scoring_date=scoring_date, settings=settings)

    # customer i gets 10 distinct items starting at a position skewed to the top sellers
    start = (rng.pareto(1.5, n) * 3).astype(int) % (len(items) - 10)
    recs = pd.DataFrame(
        {
            "customer_key": np.repeat(rfm["customer_key"].to_numpy(), 10),
            "rank": np.tile(np.arange(1, 11), n),
            "item_id": [items[s + r] for s in start for r in range(10)],
            "score": np.tile(np.linspace(1.0, 0.1, 10), n),
        }
    ).assign(**_lineage(RECOMMENDER_MODEL))
    write_scores(recs, RECOMMENDATIONS_TABLE, scoring_date=scoring_date, settings=settings)

    counts = recs.groupby("item_id").size().sort_values(ascending=False, kind="stable")
    by_segment = pd.Series(probability).groupby(segments["segment_name"]).mean()
    return {
        "scoring_date": f"{scoring_date:%Y-%m-%d}",
        "customers": n,
        "above_half": int((probability > 0.5).sum()),
        "mean_by_segment": {str(k): float(v) for k, v in by_segment.items()},
        "recommended_counts": {str(k): int(v) for k, v in counts.items()},
        "example_customer": str(rfm["customer_key"].iat[0]),
        "example_items": [items[start[0] + r] for r in range(10)],
    }
