"""The embedded Airflow's environment and the as-of date rule, without importing Airflow."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from trendcast.orchestration import environment
from trendcast.orchestration.tasks import as_of_date
from trendcast.settings import Settings
from trendcast.warehouse import connect


def test_airflow_env_keeps_everything_under_the_state_dir(settings: Settings) -> None:
    env = environment.airflow_env(settings)
    home = settings.state_path / "airflow"
    assert env["AIRFLOW_HOME"] == str(home)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home / 'airflow.db'}"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"].endswith("/plugins")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8080/execution/"
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 64
    assert env["TRENDCAST_PSEUDONYMISATION_SALT"] == "test-salt-not-secret"  # task processes hash with the same
    # secrets are generated once and stay stable
    again = environment.airflow_env(settings, port=8181)
    assert again["AIRFLOW__API_AUTH__JWT_SECRET"] == env["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert again["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8181/execution/"
    password = environment.admin_password(settings)
    assert len(password) >= 12 and environment.admin_password(settings) == password
    assert (home / "simple_auth_manager_passwords.json").stat().st_mode & 0o077 == 0


def test_pool_slots_follow_the_warehouse(settings: Settings) -> None:
    assert environment.pool_slots(settings) == 1
    assert environment.pool_slots(Settings(warehouse="postgres")) == 4
    assert environment.pool_slots(Settings(warehouse="postgres", warehouse_pool_slots=2)) == 2


def test_as_of_date_is_the_last_day_on_or_before_the_logical_date(settings: Settings) -> None:
    with connect(settings) as conn:
        conn.exec_driver_sql("create schema marts")
        conn.exec_driver_sql(
            "create table marts.ml_item_daily_sales as select * from (values "
            "('a', date '2024-01-01'), ('a', date '2024-01-02'), ('a', date '2024-01-05')) t(item_id, sale_date)"
        )
    assert as_of_date(None, settings) == dt.date(2024, 1, 5)
    assert as_of_date(dt.datetime(2024, 1, 4, 5, tzinfo=dt.UTC), settings) == dt.date(2024, 1, 2)
    assert as_of_date("2024-01-02T05:00:00+00:00", settings) == dt.date(2024, 1, 2)
    assert as_of_date(dt.datetime(2030, 1, 1, tzinfo=dt.UTC), settings) == dt.date(2024, 1, 5)
    from trendcast.exceptions import SchemaContractError

    with pytest.raises(SchemaContractError, match="no day on or before 2023-12-31"):
        as_of_date(dt.date(2023, 12, 31), settings)
    with connect(settings) as conn:
        assert conn.execute(sa.text("select count(*) from marts.ml_item_daily_sales")).scalar() == 3


def test_airflow_env_prints_the_port_airflow_up_runs_on(settings: Settings) -> None:
    from typer.testing import CliRunner

    from trendcast.cli import app

    environment.record_running_port(settings, 9191)  # as `trendcast airflow up --port 9191` does once healthy
    printed = CliRunner().invoke(app, ["airflow", "env"]).stdout
    assert "export AIRFLOW__API__BASE_URL=http://localhost:9191" in printed
    environment.record_running_port(settings, None)  # stopped: back to the configured port
    assert "http://localhost:8080" in CliRunner().invoke(app, ["airflow", "env"]).stdout
    (settings.state_path / "airflow" / "api_server.json").write_text('{"pid": 999999999, "port": 9191}')
    assert environment.running_port(settings) is None  # a killed `airflow up` leaves a stale note: ignored
