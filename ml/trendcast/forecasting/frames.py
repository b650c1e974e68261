"""The long-format series contract (``unique_id``, ``ds``, ``y``) and helpers that shape such frames."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from trendcast.exceptions import SchemaContractError

__all__ = [
    "ID_COL",
    "TIME_COL",
    "TARGET_COL",
    "CUTOFF_COL",
    "HISTORY_ONLY_COLUMNS",
    "validate_series_frame",
    "fill_daily_gaps",
    "future_frame",
]

logger = logging.getLogger(__name__)

ID_COL = "unique_id"
TIME_COL = "ds"
TARGET_COL = "y"
CUTOFF_COL = "cutoff"
#: Columns models may read from history but that are not known for forecast days (never passed as ``future``).
HISTORY_ONLY_COLUMNS = ("n_orders",)


def validate_series_frame(
    df: pd.DataFrame,
    *,
    target: bool = True,
    extra_columns: Iterable[str] = (),
    check_unique: bool = True,
) -> pd.DataFrame:
    """Check the long-format contract and return ``df`` unchanged.

    Raises:
        SchemaContractError: naming every missing column, every column with a wrong dtype
            (``unique_id`` string/object/category, ``ds`` datetime64, ``y`` numeric) and duplicated keys.
    """
    required = [ID_COL, TIME_COL, *([TARGET_COL] if target else []), *extra_columns]
    problems: list[str] = []
    missing = [c for c in required if c not in df.columns]
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if ID_COL in df.columns and not (
        pd.api.types.is_string_dtype(df[ID_COL])
        or pd.api.types.is_object_dtype(df[ID_COL])
        or isinstance(df[ID_COL].dtype, pd.CategoricalDtype)
    ):
        problems.append(f"`{ID_COL}` has dtype {df[ID_COL].dtype}, expected str")
    if TIME_COL in df.columns and not pd.api.types.is_datetime64_any_dtype(df[TIME_COL]):
        problems.append(f"`{TIME_COL}` has dtype {df[TIME_COL].dtype}, expected datetime64")
    if target and TARGET_COL in df.columns and not pd.api.types.is_numeric_dtype(df[TARGET_COL]):
        problems.append(f"`{TARGET_COL}` has dtype {df[TARGET_COL].dtype}, expected a numeric dtype")
    if not problems and check_unique and df.duplicated([ID_COL, TIME_COL]).any():
        n = int(df.duplicated([ID_COL, TIME_COL]).sum())
        problems.append(f"{n} duplicated ({ID_COL}, {TIME_COL}) rows")
    if problems:
        raise SchemaContractError("series frame violates the contract: " + "; ".join(problems))
    return df


def fill_daily_gaps(
    df: pd.DataFrame, *, end: pd.Timestamp | str | None = None, fill_value: float = 0.0
) -> pd.DataFrame:
    """Zero-fill each series on a daily grid from its first ``ds`` to ``end`` (default: its own last ``ds``).

    Only ``unique_id, ds, y`` are kept: exogenous columns have no natural fill value.
    """
    validate_series_frame(df)
    bounds = df.groupby(ID_COL, observed=True)[TIME_COL].agg(["min", "max"])
    if end is not None:
        bounds["max"] = pd.Timestamp(end)
    bounds = bounds[bounds["max"] >= bounds["min"]]
    lengths = ((bounds["max"] - bounds["min"]).dt.days + 1).to_numpy()
    ids = np.repeat(bounds.index.to_numpy(), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    ds = np.repeat(bounds["min"].to_numpy(), lengths) + offsets.astype("timedelta64[D]")
    grid = pd.DataFrame({ID_COL: ids, TIME_COL: ds})
    out = grid.merge(df[[ID_COL, TIME_COL, TARGET_COL]], on=[ID_COL, TIME_COL], how="left")
    out[TARGET_COL] = out[TARGET_COL].fillna(fill_value).astype(float)
    return out


def future_frame(df: pd.DataFrame, h: int) -> pd.DataFrame:
    """``unique_id, ds`` for the ``h`` days after each series' last ``ds``."""
    last = df.groupby(ID_COL, observed=True, sort=True)[TIME_COL].max()
    ids = np.repeat(last.index.to_numpy(), h)
    steps = np.tile(np.arange(1, h + 1), len(last)).astype("timedelta64[D]")
    return pd.DataFrame({ID_COL: ids, TIME_COL: np.repeat(last.to_numpy(), h) + steps})
