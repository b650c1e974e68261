"""``make demo`` through Airflow: set up the embedded Airflow, drop a generated shop into the landing folder and
run the three DAGs with ``dag.test()`` in order (ingest -> daily -> weekly retrain), every task a real Airflow
task instance recorded in the metadata database (visible in the UI afterwards)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from trendcast.exceptions import ConfigError, UnknownNameError
from trendcast.settings import Settings, get_settings

__all__ = ["TaskRun", "DagRunSummary", "AirflowDemoSummary", "load_dags", "run_dag", "run_airflow_demo", "DEMO_DAGS"]

log = logging.getLogger(__name__)

DEMO_DAGS = ("trendcast_ingest", "trendcast_daily", "trendcast_weekly_retrain")
#: With --corrupt the daily DAG runs again on the corrupted mart: dbt (which would rebuild it) is marked success.
SKIP_DBT_PATTERN = r"^(prepare_warehouse|dbt_features\..*)$"


class TaskRun(BaseModel):
    task_id: str
    state: str
    seconds: float
    result: str = ""


class DagRunSummary(BaseModel):
    dag_id: str
    run_id: str
    state: str
    logical_date: str | None
    seconds: float
    tasks: list[TaskRun]


def load_dags(dag_ids: tuple[str, ...] = DEMO_DAGS) -> dict[str, Any]:
    """Parse the repository's ``dags/`` folder; raise when a file has an import error or a DAG is missing."""
    from airflow.dag_processing.dagbag import DagBag

    from trendcast.orchestration.environment import DAGS_DIR

    bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:  # the last line of each import traceback says what is wrong
        errors = bag.import_errors.items()
        details = "; ".join(f"{Path(path).name}: {err.strip().splitlines()[-1]}" for path, err in errors)
        raise ConfigError(f"DAG import errors: {details}")
    missing = [d for d in dag_ids if d not in bag.dags]
    if missing:
        raise UnknownNameError(f"DAGs not found in {DAGS_DIR}: {missing}; found {sorted(bag.dags)}")
    return {d: bag.dags[d] for d in dag_ids}


def _short(value: Any, limit: int = 160) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summary(dag_id: str, dag_run: Any, seconds: float) -> DagRunSummary:
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_id, run_id=dag_run.run_id).one()
        tis = sorted(run.get_task_instances(session=session), key=lambda t: (t.start_date is None, t.start_date))
        tasks = []
        for ti in tis:
            value = (
                session.query(XComModel)
                .filter_by(dag_id=dag_id, run_id=run.run_id, task_id=ti.task_id, key="return_value")
                .one_or_none()
            )
            tasks.append(
                TaskRun(
                    task_id=ti.task_id,
                    state=str(ti.state),
                    seconds=round(ti.duration or 0.0, 1),
                    result=_short(value.value if value is not None else ""),
                )
            )
        return DagRunSummary(
            dag_id=dag_id,
            run_id=run.run_id,
            state=str(run.state),
            logical_date=run.logical_date.isoformat() if run.logical_date else None,
            seconds=round(seconds, 1),
            tasks=tasks,
        )


def run_dag(
    dag: Any, logical_date: dt.datetime | None = None, *, mark_success_pattern: str | None = None
) -> DagRunSummary:
    """``dag.test()`` (all tasks in this process, recorded in the metadata DB) and what each task did."""
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"logical_date": logical_date or dt.datetime.now(dt.UTC)}
    if mark_success_pattern:
        kwargs["mark_success_pattern"] = mark_success_pattern
    dag_run = dag.test(**kwargs)
    return _summary(dag.dag_id, dag_run, time.perf_counter() - started)


class AirflowDemoSummary(BaseModel):
    airflow_home: str
    data_dir: str
    setup_s: float
    runs: list[DagRunSummary]
    corrupt: str | None = None

    @property
    def succeeded(self) -> bool:
        expected = self.runs[:-1] if self.corrupt else self.runs
        return all(r.state == "success" for r in expected)


def run_airflow_demo(
    settings: Settings | None = None,
    *,
    seed: int = 42,
    n_lines: int | None = None,
    corrupt: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> AirflowDemoSummary:
    """The whole pipeline through Airflow on the embedded default (DuckDB, SQLite metadata, MLflow sqlite)."""
    from trendcast import generate
    from trendcast.orchestration.environment import airflow_home, landing_dir
    from trendcast.orchestration.setup import setup_airflow

    settings = settings or get_settings()
    step = on_step or (lambda _: None)
    started = time.perf_counter()
    step("setting up Airflow (dbt manifest, metadata DB, pool)")
    setup_airflow(settings)
    data_dir = landing_dir(settings) / f"demo-seed{seed}"
    step(f"generating a shop into {data_dir}")
    generate.generate(Path(data_dir), seed=seed, **({"n_lines": n_lines} if n_lines else {}))
    dags = load_dags()
    setup_s = time.perf_counter() - started
    runs = []
    for dag_id in DEMO_DAGS:
        step(f"airflow: {dag_id}")
        runs.append(run_dag(dags[dag_id]))
        if runs[-1].state != "success":
            break
    if corrupt and all(r.state == "success" for r in runs):
        from trendcast.quality.corruptions import corrupt_features

        step(f"airflow: trendcast_daily on a feature mart corrupted with {corrupt}")
        corrupt_features(corrupt, settings, i_know_this_is_a_demo=True)
        runs.append(run_dag(dags["trendcast_daily"], mark_success_pattern=SKIP_DBT_PATTERN))
    return AirflowDemoSummary(
        airflow_home=str(airflow_home(settings)),
        data_dir=str(data_dir),
        setup_s=round(setup_s, 1),
        runs=runs,
        corrupt=corrupt,
    )
