"""The error tree: every error trendcast raises on purpose derives from TrendcastError."""

from __future__ import annotations

__all__ = [
    "TrendcastError",
    "ConfigError",
    "SchemaContractError",
    "IngestError",
    "DataValidationError",
    "DbtError",
    "ModelNotFoundError",
    "QueryError",
    "WarehouseLockedError",
    "UnknownNameError",
    "DiskFullError",
]


class TrendcastError(Exception):
    """Base class of trendcast's own errors; the CLI prints these without a traceback."""


class ConfigError(TrendcastError):
    """A setting is missing or inconsistent."""


class SchemaContractError(TrendcastError):
    """A frame or file does not have the columns or dtypes a contract requires."""


class IngestError(TrendcastError):
    """A file was rejected before anything was written; the message names file, row and column."""


class DataValidationError(TrendcastError):
    """Data failed a quality gate."""


class DbtError(TrendcastError):
    """A dbt command failed."""


class ModelNotFoundError(TrendcastError):
    """No registered model (or alias) matches the request."""


class QueryError(TrendcastError):
    """A query against the warehouse failed (bad SQL, or a write attempted through a read-only path)."""


class WarehouseLockedError(TrendcastError):
    """Another process holds the DuckDB warehouse file (DuckDB allows one writer) past the bounded wait."""


class DiskFullError(TrendcastError):
    """The disk under the state dir or the warehouse is full; nothing half written was kept."""


class UnknownNameError(ConfigError):
    """The user named a table, item or model that does not exist; the message lists the valid ones (exit 2)."""
