"""Build a small but real warehouse once: the pipeline steps the demo runs, called one by one.

The steps are called directly (not through ``run_demo``) so the fixture does not depend on the demo's wiring;
AutoETS is left out of the baselines to keep the build around two minutes on a busy 2-core machine.
"""

from __future__ import annotations

import time
from pathlib import Path

from trendcast.settings import Settings

SEED = 3
N_LINES = 40_000
BASELINES = ("SeasonalNaive", "Mean28", "Zero")
SALT = "dashboard-test"


def build_demo_warehouse(state_dir: Path, *, seed: int = SEED, n_lines: int = N_LINES) -> tuple[Settings, dict]:
    """Generate, ingest, dbt build, gate, train (+ evaluation store), forecast, trends and anomalies."""
    from trendcast import dbt, generate, ingest
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
    timed("ingest", lambda: ingest.ingest_paths([data_dir], settings=settings))
    timed("build", lambda: dbt.build(settings, quiet=True))
    gates = timed("validate", lambda: demo_gate(settings))
    assert gates[-1].passed, "the clean demo data must pass the gate"
    report = timed("train", lambda: workflow.train(settings, families=("xgb",), baselines=BASELINES))
    assert report.champion, f"no champion promoted: {report.decisions}"
    timed("forecast", lambda: workflow.forecast(settings))
    timed("trends", lambda: workflow.trends(settings))
    timed("anomalies", lambda: run_daily_anomalies(settings))
    return settings, {"timings": timings, "train": report.model_dump()}
