"""The pseudonymisation salt never reaches a file outside ``<state_dir>/secrets/``: not dbt's compiled or run SQL,
its manifest, run results, partial-parse cache or log; and on PostgreSQL no other role can read it."""

from __future__ import annotations

import stat

import pytest
import sqlalchemy as sa

from tests.dbt.raw_fixture import SALT
from tests.state_scan import files_holding
from trendcast.dbt import DbtRunResult, target_path
from trendcast.settings import Settings
from trendcast.warehouse import connect

Built = tuple[Settings, DbtRunResult]


def _assert_no_leak(settings: Settings, result: DbtRunResult) -> None:
    assert result.success, result.failures
    state = settings.state_path
    # the places dbt writes must exist, or an empty grep proves nothing
    for written in ("manifest.json", "run_results.json", "partial_parse.msgpack", "compiled", "run"):
        assert (target_path(settings) / written).exists(), written
    assert (state / "logs" / "dbt" / "dbt.log").stat().st_size > 0
    assert files_holding(state, SALT) == []


def test_salt_not_in_any_file_dbt_writes_on_duckdb(duckdb_build: Built) -> None:
    _assert_no_leak(*duckdb_build)
    settings, _ = duckdb_build
    secrets = settings.state_path / "secrets"  # the salt table's own database file, private to this user
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert stat.S_IMODE(settings.salt_duckdb_file.stat().st_mode) == 0o600
    assert files_holding(settings.duckdb_file.parent, SALT) == []  # nor in the warehouse file itself
    model = target_path(settings) / "compiled" / "trendcast" / "models" / "staging" / "stg_shop__transactions.sql"
    assert "(select salt from" in model.read_text()  # the SQL names the table holding the salt, not the value


@pytest.mark.postgres
def test_salt_not_in_any_file_dbt_writes_on_postgres(postgres_build: Built) -> None:
    _assert_no_leak(*postgres_build)
    settings, _ = postgres_build
    with connect(settings) as conn:
        readable = conn.execute(
            sa.text("select has_schema_privilege('public', 'secrets', 'USAGE')"),
        ).scalar()
        salt = conn.execute(sa.text("select salt from secrets.pseudonymisation_salt")).scalars().all()
    assert readable is False
    assert salt == [SALT]
