"""``trendcast backtest --output FILE``: the leaderboard, per-fold and per-item metrics as one json or csv file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from trendcast.exceptions import ConfigError
from trendcast.forecasting.backtest import BacktestResult
from trendcast.forecasting.metrics import Evaluation
from trendcast.query_output import write_atomically

__all__ = ["OUTPUT_SUFFIXES", "backtest_tables", "write_backtest_report"]

OUTPUT_SUFFIXES = (".json", ".csv")


def backtest_tables(leaderboard: pd.DataFrame, evaluation: Evaluation) -> dict[str, pd.DataFrame]:
    """``leaderboard`` (mean over folds, with wall times), ``per_fold`` (model x cutoff) and ``per_item``
    (model x series x cutoff) metrics."""
    return {
        "leaderboard": leaderboard,
        "per_fold": evaluation.summary[evaluation.summary["fold"] != "mean"].reset_index(drop=True),
        "per_item": evaluation.per_item_fold.reset_index(drop=True),
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    # pandas' own json writer turns timestamps into ISO text and NaN into null
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def write_backtest_report(
    path: Path, result: BacktestResult, leaderboard: pd.DataFrame, evaluation: Evaluation
) -> Path:
    """Write the report to ``path`` (atomically): json holds one list per table; csv is one tidy table whose
    ``level`` column is ``leaderboard``, ``fold`` or ``item``."""
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(f"--output {path}: name a .json or .csv file")
    tables = backtest_tables(leaderboard, evaluation)
    if suffix == ".json":
        report = {"cutoffs": [f"{c:%Y-%m-%d}" for c in result.cutoffs]}
        report |= {name: _records(frame) for name, frame in tables.items()}
        write_atomically(path, json.dumps(report, indent=1) + "\n")
    else:
        levels = {"leaderboard": "leaderboard", "per_fold": "fold", "per_item": "item"}
        tidy = pd.concat([frame.assign(level=levels[name]) for name, frame in tables.items()], ignore_index=True)
        tidy = tidy[["level", *[c for c in tidy.columns if c != "level"]]]
        write_atomically(path, tidy.to_csv(index=False, date_format="%Y-%m-%d"))
    return path
