"""One settings object for the whole package, read from ``TRENDCAST_*`` variables and ``.env``."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "REPO_ROOT", "DBT_PROJECT_DIR"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

WarehouseKind = Literal["duckdb", "postgres"]


class Settings(BaseSettings):
    """Every knob trendcast reads. ``.env.example`` documents each one."""

    model_config = SettingsConfigDict(env_prefix="TRENDCAST_", env_file=".env", extra="ignore")

    state_dir: Path = Field(Path(".trendcast"), description="Local state: DuckDB file, logs, MLflow, outbox.")
    warehouse: WarehouseKind = Field("duckdb", description="Warehouse backend; also the dbt target name.")
    duckdb_path: Path | None = Field(None, description="DuckDB file; default <state_dir>/warehouse.duckdb.")
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_password: SecretStr = SecretStr("")
    pg_database: str = "trendcast"
    pseudonymisation_salt: SecretStr | None = Field(
        None,
        description="Salt for hashing customer ids. Unset: a random salt is created once in the state dir.",
    )
    max_future_days: int = Field(1, description="Ingest rejects invoice dates more than this many days ahead.")
    ingest_chunk_rows: int = Field(250_000, description="Rows validated per streamed chunk; bounds ingest memory.")
    ingest_duckdb_memory_limit: str = Field("1GB", description="DuckDB memory_limit for ingest's final copy.")
    smtp_host: str | None = Field(
        None,
        description="SMTP server for alerts; unset: .eml files in <state_dir>/outbox (or Airflow's SMTP connection).",
    )
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_ssl: bool = Field(False, description="Implicit TLS (SMTP over SSL).")
    smtp_timeout_s: float = 30.0
    smtp_from: str = "trendcast@localhost"
    smtp_conn_id: str = Field("smtp_default", description="Airflow connection used when smtp_host is unset.")
    alert_recipients: str = Field(
        "data-owners@localhost", description="Comma-separated recipients of data-quality and failure alerts."
    )
    dq_row_count_tolerance: float = Field(0.10, description="Allowed +/- share of rows vs the last successful run.")
    dq_chunk_rows: int = Field(5_000_000, description="Tables above this many rows are validated in chunks.")
    dq_active_item_days: int = Field(28, description="Items sold within this many days must appear in a forecast.")
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; unset: sqlite:///<state_dir>/mlflow/mlflow.db."
    )
    promotion_margin: float = Field(
        0.02,
        description="Relative gain over @champion (same split) a challenger needs: forecasts (WRMSSE, also vs "
        "SeasonalNaive), propensity (ROC-AUC and log loss), recommendations (NDCG@10).",
    )
    forecast_horizon: int = Field(28, description="Days ahead each forecast covers.")
    landing_dir: Path | None = Field(
        None, description="Folder the ingest DAG loads new files from; default <state_dir>/landing."
    )
    airflow_port: int = Field(8080, description="Port of the local Airflow api-server (UI and REST API).")
    airflow_metadata_url: str | None = Field(
        None, description="Airflow metadata database URL; unset: SQLite at <state_dir>/airflow/airflow.db."
    )
    warehouse_pool_slots: int | None = Field(
        None, description="Slots of the Airflow pool for warehouse writers; unset: 1 on DuckDB, 4 on PostgreSQL."
    )
    pg_readonly_user: str = Field(
        "trendcast_reader", description="Read-only PostgreSQL role for SQL consumers (`trendcast grant-readonly`)."
    )
    pg_readonly_password: SecretStr | None = Field(
        None, description="Its login password; from the environment only. Unset: an existing password is kept."
    )
    duckdb_lock_wait_s: float = Field(
        15.0,
        ge=0,
        description="How long a warehouse connection waits while another process holds the DuckDB file.",
    )
    duckdb_memory_limit: str = Field(
        "4GB",
        pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$",
        description="DuckDB memory_limit for dbt builds and warehouse connections (spills to disk beyond it).",
    )
    shop_timezone: ZoneInfo = Field(
        ZoneInfo("Europe/London"),
        description="IANA zone of stored timestamps; ingest converts zone-aware values to it.",
    )
    # -- new fields go above this line (keep one line each, with a description) --

    @property
    def state_path(self) -> Path:
        return self.state_dir.expanduser().resolve()

    @property
    def duckdb_file(self) -> Path:
        path = self.duckdb_path or self.state_dir / "warehouse.duckdb"
        return path.expanduser().resolve()

    @property
    def sqlalchemy_url(self) -> str:
        if self.warehouse == "duckdb":
            return f"duckdb:///{self.duckdb_file}"
        password = self.pg_password.get_secret_value()
        auth = f"{self.pg_user}:{password}" if password else self.pg_user
        return f"postgresql+psycopg2://{auth}@{self.pg_host}:{self.pg_port}/{self.pg_database}"

    @property
    def salt_duckdb_file(self) -> Path:
        """The DuckDB database holding the salt table dbt attaches as ``secrets`` (see trendcast.pseudonymisation)."""
        return self.state_path / "secrets" / "pseudonymisation_salt.duckdb"

    def secrets_dir(self) -> Path:
        """``<state_dir>/secrets``, the only folder the salt is written to; created (or tightened) to 0700."""
        folder = self.state_path / "secrets"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        return folder

    def salt(self) -> str:
        """The pseudonymisation salt; created once per state dir when not configured."""
        if self.pseudonymisation_salt is not None:
            return self.pseudonymisation_salt.get_secret_value()
        salt_file = self.state_path / "secrets" / "pseudonymisation_salt"
        if not salt_file.exists():
            self.secrets_dir()
            fd = os.open(salt_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return salt_file.read_text().strip()

    def dbt_env(self) -> dict[str, str]:
        """Environment for dbt: ``profiles.yml`` reads exactly these variables. The salt is not one of them: dbt
        reads it from the warehouse (trendcast.pseudonymisation), so it never lands in dbt's artifacts or logs."""
        return {
            "TRENDCAST_WAREHOUSE": self.warehouse,
            "TRENDCAST_DUCKDB_PATH": str(self.duckdb_file),
            "TRENDCAST_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "TRENDCAST_PG_HOST": self.pg_host,
            "TRENDCAST_PG_PORT": str(self.pg_port),
            "TRENDCAST_PG_USER": self.pg_user,
            "TRENDCAST_PG_PASSWORD": self.pg_password.get_secret_value(),
            "TRENDCAST_PG_DATABASE": self.pg_database,
            "TRENDCAST_SALT_DUCKDB_PATH": str(self.salt_duckdb_file),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        }


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use (never at import time)."""
    return Settings()
