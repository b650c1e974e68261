"""Seeded synthetic panels for the forecasting tests (no files needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def planted_panel(n_series: int = 40, days: int = 560, *, trend: float = 0.6, seed: int = 0) -> pd.DataFrame:
    """Poisson counts with a strong weekly profile and an upward trend (the planted signal)."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2022-01-03", periods=days, freq="D")  # a Monday
    weekly = np.array([1.4, 1.2, 1.0, 1.1, 1.0, 0.2, 0.1])
    frames = []
    for i in range(n_series):
        level = np.exp(rng.normal(1.0, 0.7))
        slope = trend * rng.uniform(0.5, 1.5)
        mu = level * weekly[ds.dayofweek] * (1 + slope * np.arange(days) / days)
        frames.append(pd.DataFrame({"unique_id": f"item{i:03d}", "ds": ds, "y": rng.poisson(mu).astype(float)}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def panel() -> pd.DataFrame:
    return planted_panel()


@pytest.fixture(scope="session")
def make_panel():  # noqa: ANN201 - a factory fixture
    """The generator itself, for tests that need other sizes or no trend."""
    return planted_panel
