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
