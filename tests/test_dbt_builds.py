"""The dbt invocation that built each model is recorded from run_results.json by the CLI and the Cosmos callback,
so forecasts made through Airflow name the dbt run behind their features (issue 17: it was 'unknown')."""

from __future__ import annotations

import json
from pathlib import Path

from trendcast.dbt_builds import latest_build, record_builds
from trendcast.settings import Settings


def _run_results(folder: Path, invocation: str, statuses: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    results = [{"unique_id": f"model.trendcast.{name}", "status": s} for name, s in statuses.items()]
    results.append({"unique_id": "test.trendcast.not_null_x", "status": "pass"})
    path = folder / "run_results.json"
    path.write_text(
        json.dumps(
            {"metadata": {"invocation_id": invocation, "generated_at": "2026-12-04T05:00:00Z"}, "results": results}
        )
    )
    return path


def test_builds_are_recorded_per_model_and_replaced_by_later_runs(settings: Settings, tmp_path: Path) -> None:
    first = _run_results(tmp_path / "a", "inv-1", {"ml_item_daily_sales": "success", "stg_transactions": "success"})
    assert record_builds(first, settings) == 2
    later = _run_results(tmp_path / "b", "inv-2", {"ml_item_daily_sales": "success", "stg_transactions": "error"})
    assert record_builds(later, settings) == 1
    assert latest_build("ml_item_daily_sales", settings) == "inv-2"
    assert latest_build("stg_transactions", settings) == "inv-1"  # the failed rebuild did not replace it
    assert latest_build("nope", settings) is None
    assert record_builds(tmp_path / "missing.json", settings) == 0


def test_the_cosmos_callback_records_the_task_invocation(settings: Settings, tmp_path: Path) -> None:
    from trendcast.orchestration.dagkit import release_after_dbt

    project = tmp_path / "cosmos-tmp-project"
    _run_results(project / "target", "cosmos-inv", {"ml_item_daily_sales": "success"})
    release_after_dbt(str(project))
    assert latest_build("ml_item_daily_sales", settings) == "cosmos-inv"


def test_a_forecast_names_the_recorded_invocation(settings: Settings, tmp_path: Path) -> None:
    from trendcast.forecasting.workflow import _dbt_invocation_id

    assert _dbt_invocation_id(settings) == "unknown"
    record_builds(_run_results(tmp_path, "inv-9", {"ml_item_daily_sales": "success"}), settings)
    assert _dbt_invocation_id(settings) == "inv-9"
