from __future__ import annotations

from pathlib import Path

import pytest

from trendcast.settings import Settings, get_settings


def test_defaults_live_under_the_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRENDCAST_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.warehouse == "duckdb"
    assert settings.duckdb_file == (tmp_path / "state" / "warehouse.duckdb").resolve()
    assert settings.sqlalchemy_url == f"duckdb:///{settings.duckdb_file}"


def test_env_file_and_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TRENDCAST_WAREHOUSE=postgres\nTRENDCAST_PG_DATABASE=shop\n")
    monkeypatch.delenv("TRENDCAST_STATE_DIR")
    settings = Settings()
    assert settings.warehouse == "postgres"
    assert settings.sqlalchemy_url == "postgresql+psycopg2://postgres@127.0.0.1:5432/shop"


def test_password_is_secret_and_in_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRENDCAST_PG_PASSWORD", "s3cr3t-value")
    settings = Settings(warehouse="postgres")
    assert "s3cr3t-value" not in repr(settings)
    assert ":s3cr3t-value@" in settings.sqlalchemy_url


def test_generated_salt_is_created_once_and_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRENDCAST_PSEUDONYMISATION_SALT")
    settings = Settings(state_dir=tmp_path)
    first = settings.salt()
    assert len(first) == 64
    assert settings.salt() == first
    salt_file = tmp_path / "secrets" / "pseudonymisation_salt"
    assert salt_file.stat().st_mode & 0o077 == 0
    assert salt_file.parent.stat().st_mode & 0o077 == 0
    assert Settings(state_dir=tmp_path, pseudonymisation_salt="fixed").salt() == "fixed"


def test_dbt_env_carries_the_same_values(settings: Settings) -> None:
    env = settings.dbt_env()
    assert env["TRENDCAST_WAREHOUSE"] == "duckdb"
    assert env["TRENDCAST_DUCKDB_PATH"] == str(settings.duckdb_file)
    assert "test-salt-not-secret" not in env.values()  # dbt reads the salt from the warehouse, never from its env
    assert env["TRENDCAST_SALT_DUCKDB_PATH"] == str(settings.state_path / "secrets" / "pseudonymisation_salt.duckdb")
