"""`trendcast backtest --input FILE --output FILE.{json,csv}` writes leaderboard, per-fold and per-item metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trendcast.cli import app


@pytest.fixture
def series_file(tmp_path: Path) -> Path:
    days = pd.date_range("2024-01-01", periods=140, freq="D")
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame({"unique_id": f"item{i}", "ds": days, "y": rng.poisson(5 + 3 * (days.dayofweek == 5) + i)})
        for i in range(3)
    ]
    path = tmp_path / "series.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_backtest_output_has_leaderboard_folds_and_items(series_file: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"report{suffix}"
    args = ["backtest", "--input", str(series_file), "-m", "SeasonalNaive", "-m", "Zero"]
    result = CliRunner().invoke(app, [*args, "--horizon", "7", "--folds", "2", "--output", str(out)])
    assert result.exit_code == 0, result.output
    if suffix == ".json":
        report = json.loads(out.read_text())
        assert len(report["cutoffs"]) == 2
        board, folds, items = report["leaderboard"], report["per_fold"], report["per_item"]
    else:
        tidy = pd.read_csv(out)
        board, folds, items = (tidy[tidy["level"] == lv].to_dict("records") for lv in ("leaderboard", "fold", "item"))
    assert [row["model"] for row in board] == ["SeasonalNaive", "Zero"]  # a weekly pattern: SeasonalNaive wins
    assert board[0]["wrmsse"] < board[1]["wrmsse"]
    assert len(folds) == 2 * 2 and len(items) == 2 * 2 * 3
    assert {row["unique_id"] for row in items} == {"item0", "item1", "item2"}


def test_backtest_output_must_be_json_or_csv(series_file: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["backtest", "--input", str(series_file), "--output", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 2
    assert "name a .json or .csv file" in result.output and "Traceback" not in result.output
