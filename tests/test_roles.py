"""The read-only PostgreSQL role: reads consumer marts and forecasts, cannot write, never sees raw or staging.

One database per pytest-xdist worker and one role per run (roles are cluster-wide); both are dropped afterwards.
The warehouse is real: the hand-made raw rows, forecasts through the write-back, then ``dbt build`` *after* the
first grant, so the marts the reader queries were created later, as on every nightly run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.conftest import postgres_settings
from tests.dbt.raw_fixture import SALT, load_fixture
from trendcast.cli import app
from trendcast.dbt import build
from trendcast.exceptions import ConfigError
from trendcast.forecasting.models.base import QUANTILES, quantile_columns
from trendcast.forecasting.registry import ModelInfo
from trendcast.forecasting.writeback import write_forecasts
from trendcast.roles import OPS_READABLE_TABLES, ReadonlyRoleResult, readable_tables, setup_readonly_role
from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DATABASE = "trendcast_roles_test_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
PASSWORD = "reader-pw-not-secret"  # local trust auth ignores it; the test checks the stored SCRAM verifier
FORECAST_DATE = pd.Timestamp("2010-12-10")
ITEMS = ("85123A", "22423")
H = 3
INSUFFICIENT_PRIVILEGE = "42501"
READ_ONLY_TRANSACTION = "25006"


@dataclass
class Warehouse:
    settings: Settings
    role: str
    first: ReadonlyRoleResult
    second: ReadonlyRoleResult


def _admin_engine() -> sa.Engine:
    return sa.create_engine(postgres_settings("postgres").sqlalchemy_url, isolation_level="AUTOCOMMIT")


def _drop(role: str) -> None:
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.exec_driver_sql(f'drop database if exists "{DATABASE}" with (force)')
        conn.exec_driver_sql(f'drop role if exists "{role}"')
    engine.dispose()


def _forecast_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    ids = np.repeat(ITEMS, H)
    ds = np.tile(FORECAST_DATE + pd.to_timedelta(np.arange(1, H + 1), unit="D"), len(ITEMS))
    y_hat = rng.gamma(2.0, 2.0, len(ids))
    frame = pd.DataFrame({"unique_id": ids, "ds": ds, "y_hat": y_hat})
    for q, column in zip(QUANTILES, quantile_columns(), strict=True):
        frame[column] = y_hat * (0.5 + q)
    return frame


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """Raw rows, the role (first run), forecasts, ``dbt build`` as the owner, then the role setup again."""
    role = f"trendcast_reader_{uuid.uuid4().hex[:10]}"
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("TRENDCAST_") and k != "TRENDCAST_REQUIRE_SERVICES"]:
            mp.delenv(key)
        get_settings.cache_clear()
        engine = _admin_engine()
        with engine.connect() as conn:
            conn.exec_driver_sql(f'drop database if exists "{DATABASE}" with (force)')
            conn.exec_driver_sql(f'create database "{DATABASE}"')
        engine.dispose()
        settings = Settings(
            state_dir=tmp_path_factory.mktemp("roles_state"),
            warehouse="postgres",
            pg_database=DATABASE,
            pseudonymisation_salt=SALT,
            pg_readonly_user=role,
        )
        try:
            load_fixture(settings)
            first = setup_readonly_role(settings, password=PASSWORD)
            info = ModelInfo(name="trendcast-item-demand", version="1", alias="champion", run_id="run-1")
            write_forecasts(
                _forecast_frame(),
                forecast_date=FORECAST_DATE,
                model_info=info,
                dbt_invocation_id="inv-1",
                settings=settings,
                horizon=H,
            )
            build(settings, quiet=True)  # staging, intermediate and marts are created after the grant
            second = setup_readonly_role(settings)  # no password: the one set first is kept
            yield Warehouse(settings, role, first, second)
        finally:
            _drop(role)
    get_settings.cache_clear()


@pytest.fixture
def reader(wh: Warehouse) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
    """Run SQL as the read-only role over a real TCP login (its own session settings apply)."""
    url = sa.engine.URL.create(
        "postgresql+psycopg2",
        username=wh.role,
        password=PASSWORD,
        host=wh.settings.pg_host,
        port=wh.settings.pg_port,
        database=DATABASE,
    )
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def run(sql: str, *, read_write: bool = False) -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            if read_write:  # past the role's default read-only transactions, down to the privileges
                conn.exec_driver_sql("set session characteristics as transaction read write")
                conn.commit()
            result = conn.exec_driver_sql(sql)
            rows = [tuple(r) for r in result] if result.returns_rows else []
            conn.commit()
            return rows

    yield run
    engine.dispose()


def _sqlstate(run: Callable[..., Any], sql: str, **kwargs: Any) -> str:
    with pytest.raises(sa.exc.DBAPIError) as caught:
        run(sql, **kwargs)
    return caught.value.orig.pgcode


def _owner_sql(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with connect(settings) as conn:
        result = conn.execute(sa.text(sql))
        return [tuple(r) for r in result] if result.returns_rows else []


def test_reader_reads_consumer_marts_and_forecasts(wh: Warehouse, reader: Callable[..., list]) -> None:
    assert reader("select count(*) from forecasts.item_daily_forecast") == [(len(ITEMS) * H,)]
    rows = reader(
        "select item_id, count(*), min(horizon_days), max(horizon_days), bool_and(is_latest), "
        "max(item_description) from marts.item_demand_forecasts group by item_id order by item_id"
    )
    assert [r[:5] for r in rows] == [("22423", H, 1, H, True), ("85123A", H, 1, H, True)]
    assert rows[1][5] == "A white hanging heart holder for tea lights."  # view joins ml_item_text as its owner
    assert reader("select count(*) from marts.ml_item_daily_sales") == [(26,)]
    assert reader("select count(*) from marts.item_trends") == [(0,)]
    keys = [k for (k,) in reader("select customer_key from marts.ml_customer_rfm")]
    assert len(keys) == 3 and not {"17850", "13047", "12583"} & set(keys)  # pseudonymised only
    assert reader("select count(*) from ops.sales_anomalies") == [(0,)]


@pytest.mark.parametrize(
    "table",
    [
        "raw.transactions",
        "raw.events",
        "raw.ingest_batches",
        "staging.stg_shop__transactions",
        "intermediate.int_transactions_cleaned",
        "seeds.uk_bank_holidays",
        "ops.dq_results",
    ],
)
def test_reader_cannot_read_private_tables(reader: Callable[..., list], table: str) -> None:
    assert _sqlstate(reader, f"select * from {table} limit 1") == INSUFFICIENT_PRIVILEGE


def test_raw_tables_hold_customer_ids(wh: Warehouse) -> None:
    """Guard for the test above: the raw tables the reader is denied really hold un-pseudonymised ids."""
    for table in ("raw.transactions", "raw.events"):
        assert _owner_sql(wh.settings, f"select count(*) from {table} where customer_id = '17850'")[0][0] > 0, table


def test_sessions_default_to_read_only(reader: Callable[..., list]) -> None:
    assert reader("show default_transaction_read_only") == [("on",)]
    insert = "insert into forecasts.item_daily_forecast (item_id) values ('x')"
    assert _sqlstate(reader, insert) == READ_ONLY_TRANSACTION


@pytest.mark.parametrize(
    "sql",
    [
        "insert into forecasts.item_daily_forecast (item_id) values ('x')",
        "update forecasts.item_daily_forecast set y_hat = 0",
        "delete from forecasts.item_daily_forecast",
        "truncate forecasts.item_daily_forecast",
        "update marts.ml_item_daily_sales set units_sold = 0",
        "delete from trends.item_trend_signals",
        "insert into ops.sales_anomalies (level) values ('x')",
        "create table marts.reader_table (x int)",
        "create table forecasts.reader_table (x int)",
        "create schema reader_schema",
        "drop table marts.ml_item_daily_sales",
        "alter table forecasts.item_daily_forecast add column x int",
    ],
)
def test_writes_fail_with_permission_denied(reader: Callable[..., list], sql: str) -> None:
    assert _sqlstate(reader, sql, read_write=True) == INSUFFICIENT_PRIVILEGE


def test_public_schema_is_not_writable(wh: Warehouse, reader: Callable[..., list]) -> None:
    version = _owner_sql(wh.settings, "show server_version_num")[0][0]
    if int(version) < 150000:
        pytest.skip("PostgreSQL < 15 lets PUBLIC create in schema public")
    assert _sqlstate(reader, "create table public.reader_table (x int)", read_write=True) == INSUFFICIENT_PRIVILEGE


def test_tables_created_after_the_grant_follow_their_schema(wh: Warehouse, reader: Callable[..., list]) -> None:
    """Default privileges: what the owner creates later in consumer schemas is readable, elsewhere it is not."""
    late = {
        "marts.late_mart": True,
        "scores.late_scores": True,
        "trends.late_signals": True,
        "raw.late_raw": False,
        "staging.late_stage": False,
        "ops.late_ops": False,
    }
    try:
        for table in late:
            _owner_sql(wh.settings, f"create table {table} as select 42 as answer")
        for table, readable in late.items():
            if readable:
                assert reader(f"select answer from {table}") == [(42,)], table
            else:
                assert _sqlstate(reader, f"select answer from {table}") == INSUFFICIENT_PRIVILEGE, table
    finally:
        for table in late:
            _owner_sql(wh.settings, f"drop table if exists {table}")


def test_setup_is_idempotent_and_converges(wh: Warehouse) -> None:
    assert wh.first.created and not wh.second.created
    assert wh.first.password_set and not wh.second.password_set
    ops = {f"ops.{t}" for t in OPS_READABLE_TABLES}
    assert ops <= set(wh.second.readable)
    assert {"marts.ml_item_daily_sales", "marts.item_demand_forecasts", "forecasts.item_daily_forecast"} <= set(
        wh.second.readable
    )
    assert not [t for t in wh.second.readable if t.split(".")[0] in ("raw", "staging", "intermediate", "seeds")]
    assert "ops.dq_results" not in wh.second.readable
    # a stray grant on raw (someone's manual fix) is taken back by the next run
    _owner_sql(
        wh.settings, f'grant usage on schema raw to "{wh.role}"; grant select on raw.transactions to "{wh.role}"'
    )
    third = setup_readonly_role(wh.settings)
    assert third.readable == wh.second.readable
    acl = _owner_sql(
        wh.settings,
        "select n.nspname, count(*) from pg_default_acl d join pg_namespace n on n.oid = d.defaclnamespace "
        f"where d.defaclacl::text like '%{wh.role}=r/%' group by 1 order by 1",
    )
    assert acl == [("forecasts", 1), ("marts", 1), ("scores", 1), ("trends", 1)]


def _scram_matches(verifier: str, password: str) -> bool:
    """Check a PostgreSQL SCRAM-SHA-256 verifier against a password (RFC 5802 / 7677)."""
    mechanism, rest = verifier.split("$", 1)
    params, keys = rest.split("$")
    iterations, salt = params.split(":")
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return (
        mechanism == "SCRAM-SHA-256"
        and hashlib.sha256(client_key).digest() == stored_key
        and hmac.new(salted, b"Server Key", "sha256").digest() == server_key
    )


def test_role_attributes_and_password(wh: Warehouse) -> None:
    (row,) = _owner_sql(
        wh.settings,
        "select r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolconfig, "
        f"a.rolpassword from pg_roles r join pg_authid a on a.oid = r.oid where r.rolname = '{wh.role}'",
    )
    assert row[:5] == (True, False, False, False, False)
    assert row[5] == ["default_transaction_read_only=on"]
    assert _scram_matches(row[6], PASSWORD)  # set by the first run, kept by the second (no password given)


def test_refuses_superuser_and_duckdb(wh: Warehouse) -> None:
    with pytest.raises(ConfigError, match="SUPERUSER"):
        setup_readonly_role(wh.settings, role="postgres")
    with pytest.raises(ConfigError, match="PostgreSQL"):
        setup_readonly_role(Settings(warehouse="duckdb"))
    with pytest.raises(ConfigError, match="role name"):
        setup_readonly_role(wh.settings, role='reader"; drop table raw.transactions; --')


def test_cli_grants_and_lists_readable_tables(wh: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    role = f"{wh.role}_cli"
    for key, value in {
        "TRENDCAST_WAREHOUSE": "postgres",
        "TRENDCAST_PG_DATABASE": DATABASE,
        "TRENDCAST_PG_READONLY_USER": role,
        "TRENDCAST_PG_READONLY_PASSWORD": PASSWORD,
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["grant-readonly"])
        assert result.exit_code == 0, result.output
        assert f"created role {role} (password set)" in result.output
        assert "item_demand_forecasts" in result.output and "never granted: raw" in result.output
        with connect(wh.settings) as conn:
            assert readable_tables(conn, role) == wh.second.readable
    finally:
        _owner_sql(wh.settings, f'drop owned by "{role}"; drop role if exists "{role}"')


def test_non_superuser_owner_as_in_docker_compose(wh: Warehouse) -> None:
    """The compose stack's warehouse owner has CREATEROLE only: setup works for it twice, grants follow its tables."""
    owner, reader_role, database = f"{wh.role}_owner", f"{wh.role}_ro", f"{DATABASE}_owned"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.exec_driver_sql(f'create role "{owner}" login createrole')
        conn.exec_driver_sql(f'create database "{database}" owner "{owner}"')
    try:
        settings = Settings(warehouse="postgres", pg_user=owner, pg_database=database, pg_readonly_user=reader_role)
        assert setup_readonly_role(settings, password=PASSWORD).created
        assert not setup_readonly_role(settings).created  # the ALTER path, as a non-superuser
        _owner_sql(
            settings, "create table marts.late_mart as select 7 as v; create schema raw; create table raw.t (v int)"
        )
        with connect(settings) as conn:
            readable = readable_tables(conn, reader_role)
            owners = conn.execute(sa.text("select distinct tableowner from pg_tables where schemaname = 'forecasts'"))
            assert [r[0] for r in owners] == [owner]
        assert "marts.late_mart" in readable and "forecasts.item_daily_forecast" in readable
        assert "raw.t" not in readable and "ops.dq_results" not in readable
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'drop database if exists "{database}" with (force)')
            conn.exec_driver_sql(f'drop role if exists "{reader_role}"')
            conn.exec_driver_sql(f'drop role if exists "{owner}"')
        engine.dispose()
