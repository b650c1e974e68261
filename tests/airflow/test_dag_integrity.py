"""DagBag hygiene: every DAG file imports cleanly, fast, with the expected DAGs, tasks, defaults and docs."""

from __future__ import annotations

import sys

import pytest

from tests.airflow.helpers import last_json, run, subprocess_env
from trendcast.settings import Settings

pytestmark = pytest.mark.airflow

# Runs in a fresh interpreter: airflow.sdk is imported first (the dag-processor has it loaded), then each
# file is parsed on its own and timed, the way the dag-processor parses files.
PARSE_SCRIPT = r"""
import json, sys, time
from pathlib import Path
from trendcast.orchestration.environment import DAGS_DIR
from trendcast.orchestration.setup import write_manifest
if sys.argv[1] == "manifest":
    write_manifest()
import airflow.sdk  # noqa
from airflow.dag_processing.dagbag import DagBag
heavy = ("great_expectations", "mlflow", "torch", "xgboost", "statsforecast", "sklearn")
report = {"files": {}, "errors": {}, "dags": {}}
for path in sorted(DAGS_DIR.glob("*.py")):
    started = time.perf_counter()
    bag = DagBag(dag_folder=str(path))
    report["files"][path.name] = round(time.perf_counter() - started, 3)
    report["errors"].update({Path(k).name: str(v) for k, v in bag.import_errors.items()})
    for dag_id, dag in bag.dags.items():
        report["dags"][dag_id] = {
            "tags": sorted(dag.tags), "doc_md": bool(dag.doc_md), "max_active_runs": dag.max_active_runs,
            "tasks": {t.task_id: {"pool": t.pool, "retries": t.retries, "owner": t.owner,
                                  "backoff": t.retry_exponential_backoff,
                                  "timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                                  "callback": bool(t.on_failure_callback),
                                  "upstream": sorted(t.upstream_task_ids)} for t in dag.tasks},
        }
report["heavy_modules"] = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
print(json.dumps(report))
"""

EXPECTED_TASKS = {
    "trendcast_ingest": {"load_new_files"},
    "trendcast_daily": {
        "prepare_warehouse",
        "dbt_features.stg_shop__transactions_model_build",
        "dbt_features.ml_item_daily_sales_model_build",
        "dbt_features.uk_bank_holidays_seed_build",
        "quality_gate",
        "ensure_champion",
        "score",
        "trend_signals",
        "dbt_consumer_marts.item_demand_forecasts_model_build",
        "dbt_consumer_marts.item_trends_model_build",
        "dbt_consumer_marts.customer_purchase_propensity_model_build",
        "dbt_consumer_marts.customer_segments_model_build",
        "dbt_consumer_marts.customer_recommendations_model_build",
        "anomaly_digest",
        "customer_propensity",
        "item_text_embeddings",
        "customer_recommendations",
    },
    "trendcast_weekly_retrain": {
        "backtest",
        "register",
        "promote",
        "propensity",
        "segments",
        "elasticity",
        "item_text_embeddings",
        "recommenders",
    },
}
#: Daily score writers the consumer views select from: each consumer-mart build waits for all of them.
SCORE_WRITERS = {"trend_signals", "customer_propensity", "item_text_embeddings", "customer_recommendations"}


def test_dagbag_imports_fast_with_expected_dags_and_tasks(settings: Settings) -> None:
    proc = run([sys.executable, "-c", PARSE_SCRIPT, "manifest"], subprocess_env(settings), timeout=300)
    assert proc.returncode == 0
    report = last_json(proc.stdout)
    for name, seconds in report["files"].items():
        print(f"parse time {name}: {seconds:.3f} s")
    assert report["errors"] == {}
    assert set(report["files"]) == {"trendcast_ingest.py", "trendcast_daily.py", "trendcast_weekly_retrain.py"}
    assert max(report["files"].values()) < 1.0, report["files"]
    assert report["heavy_modules"] == [], "heavy libraries imported while parsing DAG files"
    assert set(report["dags"]) == set(EXPECTED_TASKS)
    for dag_id, expected in EXPECTED_TASKS.items():
        dag = report["dags"][dag_id]
        assert expected <= set(dag["tasks"]), expected - set(dag["tasks"])
        assert "trendcast" in dag["tags"] and dag["doc_md"] and dag["max_active_runs"] == 1
        for task_id, task in dag["tasks"].items():
            assert task["pool"] == "trendcast_warehouse", task_id
            assert task["owner"] == "trendcast" and task["callback"], task_id
            assert task["timeout"] and task["timeout"] <= 4 * 3600, task_id
            if task_id not in {"quality_gate", "promote"}:
                assert task["retries"] == 2 and task["backoff"] == 2.0, task_id
    assert report["dags"]["trendcast_daily"]["tasks"]["quality_gate"]["retries"] == 0
    # every dbt model of the feature build is its own task; multi-parent singular tests are detached tasks
    dbt_tasks = [t for t in report["dags"]["trendcast_daily"]["tasks"] if t.startswith("dbt_features.")]
    assert len(dbt_tasks) >= 20
    _assert_behaviour_ordering(report["dags"])


def _ancestors(tasks: dict, task_id: str) -> set[str]:
    seen: set[str] = set()
    todo = list(tasks[task_id]["upstream"])
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(tasks[current]["upstream"])
    return seen


def _assert_behaviour_ordering(dags: dict) -> None:
    daily = dags["trendcast_daily"]["tasks"]
    for writer in ("customer_propensity", "item_text_embeddings", "customer_recommendations"):
        # behaviour scoring runs on gated data, beside the forecast path, never before the forecasts
        assert {"quality_gate", "score"} <= _ancestors(daily, writer), writer
        assert writer not in _ancestors(daily, "trend_signals"), writer
    assert daily["trend_signals"]["upstream"] == ["score"]  # the forecast path waits for no behaviour task
    consumer = [t for t in daily if t.startswith("dbt_consumer_marts.")]
    assert len(consumer) >= 5
    for task_id in consumer:
        assert SCORE_WRITERS <= _ancestors(daily, task_id), (task_id, SCORE_WRITERS - _ancestors(daily, task_id))
    assert set(consumer) <= _ancestors(daily, "anomaly_digest")
    weekly = dags["trendcast_weekly_retrain"]["tasks"]
    assert weekly["recommenders"]["upstream"] == ["item_text_embeddings"]
    assert weekly["promote"]["upstream"] == ["register"] and weekly["register"]["upstream"] == ["backtest"]


def test_missing_manifest_is_a_clear_import_error(settings: Settings) -> None:
    env = subprocess_env(settings, TRENDCAST_DBT_MANIFEST=str(settings.state_path / "nope" / "manifest.json"))
    proc = run([sys.executable, "-c", PARSE_SCRIPT, "no-manifest"], env, timeout=300)
    report = last_json(proc.stdout)
    assert "trendcast_daily.py" in report["errors"]
    assert "trendcast airflow setup" in report["errors"]["trendcast_daily.py"]
    assert {"trendcast_ingest", "trendcast_weekly_retrain"} <= set(report["dags"])
