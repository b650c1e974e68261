"""The pseudonymisation salt as dbt reads it: a one-row table the staging models select from, never a literal.

dbt writes every model's compiled SQL, its manifest, run results and log under the state dir, so the salt must
not pass through Jinja: trendcast stores it in the warehouse side before each dbt command and the
``pseudonymise`` macro hashes with ``(select salt from <this table>)``. On DuckDB the table lives in its own
database file under ``<state_dir>/secrets/`` (0600, attached read-only by dbt as ``secrets``); on PostgreSQL in
the schema ``secrets``, which no other role may use. Values go in as bound parameters, so no log shows them.
"""

from __future__ import annotations

import os

import sqlalchemy as sa

from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect

__all__ = ["SALT_SCHEMA", "SALT_TABLE", "publish_salt"]

SALT_SCHEMA = "secrets"
SALT_TABLE = "pseudonymisation_salt"


def _publish_duckdb(settings: Settings, salt: str) -> bool:
    import duckdb

    path = settings.salt_duckdb_file
    settings.secrets_dir()
    if path.exists():
        with duckdb.connect(str(path), read_only=True) as con:  # another dbt may hold it attached read-only
            stored = con.execute(f"select salt from main.{SALT_TABLE}").fetchall()
        if stored == [(salt,)]:
            return False
    with duckdb.connect(str(path)) as con:
        con.execute(f"create or replace table main.{SALT_TABLE} (salt varchar not null)")
        con.execute(f"insert into main.{SALT_TABLE} values (?)", [salt])
    os.chmod(path, 0o600)
    return True


def _publish_postgres(settings: Settings, salt: str) -> bool:
    table = f"{SALT_SCHEMA}.{SALT_TABLE}"
    with connect(settings) as conn:
        if sa.inspect(conn).has_table(SALT_TABLE, schema=SALT_SCHEMA):
            if conn.execute(sa.text(f"select salt from {table}")).scalars().all() == [salt]:
                return False
        conn.execute(sa.text(f"create schema if not exists {SALT_SCHEMA}"))
        conn.execute(sa.text(f"revoke all on schema {SALT_SCHEMA} from public"))
        conn.execute(sa.text(f"create table if not exists {table} (salt text not null)"))
        conn.execute(sa.text(f"revoke all on {table} from public"))
        conn.execute(sa.text(f"delete from {table}"))
        conn.execute(sa.text(f"insert into {table} (salt) values (:salt)"), {"salt": salt})
    return True


def publish_salt(settings: Settings | None = None) -> bool:
    """Store ``settings.salt()`` as the one row dbt's ``pseudonymise`` macro reads; True when it was (re)written."""
    settings = settings or get_settings()
    salt = settings.salt()
    if settings.warehouse == "duckdb":
        return _publish_duckdb(settings, salt)
    return _publish_postgres(settings, salt)
