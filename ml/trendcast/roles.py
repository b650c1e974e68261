"""Warehouse roles on PostgreSQL: one read-only login for SQL consumers (BI tools, notebooks, analysts).

What the role may read, and why:

- ``marts``, ``forecasts``, ``trends``, ``scores``: every table and view, now and later. dbt drops and re-creates
  mart tables on each build, so ``ALTER DEFAULT PRIVILEGES`` grants SELECT on whatever the warehouse owner creates
  there next. Views run with their owner's privileges, so the consumer views (``marts.item_demand_forecasts``,
  ``marts.item_trends``) need no grant on what they read. Marts only carry pseudonymised customer keys.
- ``ops``: only the tables named in :data:`OPS_READABLE_TABLES` (anomalies, data-quality run summaries, the model
  leaderboard). ``ops.dq_results`` stays private: its ``unexpected_values`` column holds sample values straight
  from the validated tables, raw customer ids included. New ``ops`` tables stay private until listed here.
- ``raw``, ``staging``, ``intermediate``, ``seeds``: never. Raw holds un-pseudonymised customer ids; staging and
  intermediate are row-level build steps, not a published interface. Any privilege found there is revoked on
  every run.

The role can log in, has no attributes beyond LOGIN, and defaults to read-only transactions as a second fence.
:func:`setup_readonly_role` is idempotent: it converges the role to this state, however often it runs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast.exceptions import ConfigError
from trendcast.pseudonymisation import SALT_SCHEMA
from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect, quote_ident

__all__ = [
    "CONSUMER_SCHEMAS",
    "OPS_SCHEMA",
    "OPS_READABLE_TABLES",
    "PRIVATE_SCHEMAS",
    "ReadonlyRoleResult",
    "setup_readonly_role",
    "readable_tables",
]

log = logging.getLogger(__name__)

#: Schemas whose every table and view the read-only role reads, including tables created later.
CONSUMER_SCHEMAS = ("marts", "forecasts", "trends", "scores")
OPS_SCHEMA = "ops"
#: The ``ops`` tables the role reads; the rest of ``ops`` (``dq_results``: raw sample values) stays private.
OPS_READABLE_TABLES = ("sales_anomalies", "dq_runs", "model_leaderboard")
#: Schemas the role never reads (un-pseudonymised data, or internal build steps).
PRIVATE_SCHEMAS = ("raw", "staging", "intermediate", "seeds", SALT_SCHEMA)
_WRITE_PRIVILEGES = "insert, update, delete, truncate, references, trigger"
_ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


@dataclass(frozen=True)
class ReadonlyRoleResult:
    """What :func:`setup_readonly_role` did and what the role can read afterwards."""

    role: str
    owner: str
    database: str
    created: bool
    password_set: bool
    readable: list[str] = field(default_factory=list)


def readable_tables(conn: Connection, role: str) -> list[str]:
    """``schema.table`` of every table and view ``role`` may SELECT (system schemas left out)."""
    query = sa.text(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema not in ('pg_catalog', 'information_schema') "
        "and has_table_privilege(:role, format('%I.%I', table_schema, table_name), 'SELECT') "
        "order by 1"
    )
    return [row[0] for row in conn.execute(query, {"role": role})]


def _existing_schemas(conn: Connection, names: tuple[str, ...]) -> list[str]:
    query = sa.text("select nspname from pg_namespace where nspname = any(:names) order by nspname")
    return [row[0] for row in conn.execute(query, {"names": list(names)})]


def _encrypted(conn: Connection, role: str, password: str) -> str:
    """The password hashed client-side (the server's ``password_encryption``, SCRAM by default), so the clear
    text never reaches the server or its statement log."""
    from psycopg2.extensions import encrypt_password

    return encrypt_password(password, role, scope=conn.connection.dbapi_connection)


def _ensure_role(conn: Connection, role: str, password: str | None) -> bool:
    """Create the login role, or take back attributes it should not have; returns whether it was created.

    Only attributes that differ are altered: a CREATEROLE owner may not even restate NOSUPERUSER.
    """
    q = quote_ident(conn, role)
    found = (
        conn.execute(
            sa.text(
                "select rolsuper or rolreplication or rolbypassrls as privileged, rolcanlogin, rolcreatedb, "
                "rolcreaterole from pg_roles where rolname = :role"
            ),
            {"role": role},
        )
        .mappings()
        .first()
    )
    if found is None:
        conn.execute(sa.text(f"create role {q} login nosuperuser nocreatedb nocreaterole noreplication"))
    elif found["privileged"]:
        raise ConfigError(
            f"role {role!r} exists with SUPERUSER, REPLICATION or BYPASSRLS; refusing to use it as the read-only role"
        )
    else:
        wrong = {
            "login": not found["rolcanlogin"],
            "nocreatedb": found["rolcreatedb"],
            "nocreaterole": found["rolcreaterole"],
        }
        if fixes := [attribute for attribute, differs in wrong.items() if differs]:
            conn.execute(sa.text(f"alter role {q} {' '.join(fixes)}"))
    if password:
        conn.execute(sa.text(f"alter role {q} password :password"), {"password": _encrypted(conn, role, password)})
    elif found is None:
        log.warning("role %s created without a password: it can log in only where pg_hba.conf trusts it", role)
    conn.execute(sa.text(f"alter role {q} set default_transaction_read_only = on"))
    return found is None


def _grant_consumer_schema(conn: Connection, schema: str, role: str, owner: str) -> None:
    s, r, o = quote_ident(conn, schema), quote_ident(conn, role), quote_ident(conn, owner)
    conn.execute(sa.text(f"create schema if not exists {s}"))
    conn.execute(sa.text(f"grant usage on schema {s} to {r}"))
    conn.execute(sa.text(f"revoke create on schema {s} from {r}"))
    conn.execute(sa.text(f"grant select on all tables in schema {s} to {r}"))
    conn.execute(sa.text(f"revoke {_WRITE_PRIVILEGES} on all tables in schema {s} from {r}"))
    conn.execute(sa.text(f"alter default privileges for role {o} in schema {s} grant select on tables to {r}"))


def _grant_ops(conn: Connection, role: str, owner: str) -> None:
    s, r, o = quote_ident(conn, OPS_SCHEMA), quote_ident(conn, role), quote_ident(conn, owner)
    conn.execute(sa.text(f"create schema if not exists {s}"))
    conn.execute(sa.text(f"grant usage on schema {s} to {r}"))
    conn.execute(sa.text(f"revoke create on schema {s} from {r}"))
    conn.execute(sa.text(f"revoke all on all tables in schema {s} from {r}"))
    conn.execute(sa.text(f"alter default privileges for role {o} in schema {s} revoke all on tables from {r}"))
    for table in OPS_READABLE_TABLES:
        exists = conn.execute(sa.text("select to_regclass(:name)"), {"name": f"{s}.{quote_ident(conn, table)}"})
        if exists.scalar() is not None:
            conn.execute(sa.text(f"grant select on {s}.{quote_ident(conn, table)} to {r}"))


def _revoke_private(conn: Connection, role: str, owner: str) -> None:
    r, o = quote_ident(conn, role), quote_ident(conn, owner)
    for schema in _existing_schemas(conn, PRIVATE_SCHEMAS):
        s = quote_ident(conn, schema)
        conn.execute(sa.text(f"revoke all on schema {s} from {r}"))
        conn.execute(sa.text(f"revoke all on all tables in schema {s} from {r}"))
        conn.execute(sa.text(f"alter default privileges for role {o} in schema {s} revoke all on tables from {r}"))


def _check_private(readable: list[str]) -> None:
    """Fail when the role still reads private data (e.g. through a grant to PUBLIC or a role membership)."""
    allowed_ops = {f"{OPS_SCHEMA}.{t}" for t in OPS_READABLE_TABLES}
    leaks = [
        name
        for name in readable
        if name.split(".", 1)[0] in PRIVATE_SCHEMAS or (name.startswith(f"{OPS_SCHEMA}.") and name not in allowed_ops)
    ]
    if leaks:
        raise ConfigError(
            "the read-only role can still read private tables (a grant to PUBLIC or a role membership?): "
            + ", ".join(leaks)
        )


def setup_readonly_role(
    settings: Settings | None = None, *, role: str | None = None, password: str | None = None
) -> ReadonlyRoleResult:
    """Create (or update) the read-only role and grant it the consumer tables; safe to run any number of times.

    Run it as the warehouse owner (the ``TRENDCAST_PG_*`` user that dbt and the pipeline use): default privileges
    apply to tables that role creates later. The owner needs CREATEROLE (or is a superuser).

    Args:
        settings: Warehouse settings (``warehouse`` must be ``postgres``).
        role: Role name; default ``settings.pg_readonly_user``.
        password: Login password; default ``settings.pg_readonly_password`` (environment). When neither is set,
            an existing password is kept.

    Raises:
        ConfigError: not on PostgreSQL, a bad role name, a privileged role (superuser ...), a statement the
            database refused (e.g. the owner lacks CREATEROLE), or the role can still read private tables afterwards.
    """
    from trendcast.outputs import ensure_output_tables

    settings = settings or get_settings()
    if settings.warehouse != "postgres":
        raise ConfigError(
            f"read-only roles need the PostgreSQL warehouse (TRENDCAST_WAREHOUSE=postgres), not {settings.warehouse}; "
            "DuckDB users read the file with read_only=True (trendcast sql does)"
        )
    role = role or settings.pg_readonly_user
    if not _ROLE_NAME.fullmatch(role):
        raise ConfigError(
            f"read-only role name {role!r}: use letters, digits and _ (at most 63, not starting with a digit)"
        )
    if password is None and settings.pg_readonly_password is not None:
        password = settings.pg_readonly_password.get_secret_value()
    try:
        ensure_output_tables(settings)  # write-back tables exist (and are granted) before the first scoring run
        with connect(settings) as conn:
            owner, database = conn.execute(sa.text("select current_user, current_database()")).one()
            created = _ensure_role(conn, role, password)
            conn.execute(
                sa.text(f"grant connect on database {quote_ident(conn, database)} to {quote_ident(conn, role)}")
            )
            for schema in CONSUMER_SCHEMAS:
                _grant_consumer_schema(conn, schema, role, owner)
            _grant_ops(conn, role, owner)
            _revoke_private(conn, role, owner)
            readable = readable_tables(conn, role)
            _check_private(readable)
    except sa.exc.DBAPIError as exc:  # e.g. the owner lacks CREATEROLE: one line, not a driver traceback
        message = str(exc.orig or exc).strip().splitlines()[0]
        raise ConfigError(f"setting up read-only role {role!r} as {settings.pg_user!r} failed: {message}") from None
    log.info("read-only role %s on %s (owner %s): %d readable tables", role, database, owner, len(readable))
    return ReadonlyRoleResult(
        role=role, owner=owner, database=database, created=created, password_set=bool(password), readable=readable
    )
