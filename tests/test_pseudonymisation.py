"""publish_salt keeps exactly one row holding the current salt, in a private file, rewritten only on change."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb

from trendcast.pseudonymisation import SALT_TABLE, publish_salt
from trendcast.settings import Settings


def _stored(settings: Settings) -> list[tuple[str]]:
    with duckdb.connect(str(settings.salt_duckdb_file), read_only=True) as con:
        return con.execute(f"select salt from main.{SALT_TABLE}").fetchall()


def test_publish_salt_on_duckdb_writes_one_private_row(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, pseudonymisation_salt="first-salt")
    assert publish_salt(settings) is True
    assert _stored(settings) == [("first-salt",)]
    assert stat.S_IMODE(settings.salt_duckdb_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.salt_duckdb_file.parent.stat().st_mode) == 0o700
    assert publish_salt(settings) is False  # unchanged: not rewritten
    rotated = Settings(state_dir=tmp_path, pseudonymisation_salt="second-salt")
    assert publish_salt(rotated) is True
    assert _stored(rotated) == [("second-salt",)]
    assert not (tmp_path / "warehouse.duckdb").exists()  # the warehouse file never holds it
