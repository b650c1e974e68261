"""
### trendcast_ingest

Loads every new file in the landing folder (`TRENDCAST_LANDING_DIR`, default `<state_dir>/landing`) into `raw.*`.
Files are validated whole and identified by a hash of their content, so a file that was loaded before adds
nothing. When new rows landed, the task emits the `trendcast_raw_data` Asset, which triggers `trendcast_daily`;
when nothing is new it is skipped and emits nothing.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import dag, task

from trendcast.orchestration.dagkit import OWNER, default_args, raw_data_asset

RAW_DATA = raw_data_asset()


@dag(
    dag_id=Path(__file__).stem,
    schedule="@hourly",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    doc_md=__doc__,
    tags=["trendcast", "ingest"],
    owner_links={OWNER: "https://github.com/trendcast/trendcast"},
)
def trendcast_ingest() -> None:
    @task(outlets=[RAW_DATA])
    def load_new_files() -> dict:
        """Ingest the landing folder; skip (no Asset event) when no file is new."""
        from airflow.sdk.exceptions import AirflowSkipException

        from trendcast.orchestration.tasks import ingest_landing

        summary = ingest_landing()
        if not summary["new_files"]:
            raise AirflowSkipException(f"no new files in {summary['landing_dir']}")
        return summary

    load_new_files()


trendcast_ingest()
