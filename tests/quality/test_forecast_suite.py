"""The forecast suite on an in-memory forecast frame (validate before writing)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.quality.conftest import HORIZON
from trendcast.quality import load_suites, validate_frame
from trendcast.settings import get_settings


@pytest.fixture(scope="module")
def suite():
    return load_suites()["item_daily_forecast"]


def _checks_failed(frame: pd.DataFrame, suite, **overrides) -> set[str]:
    params = {"forecast_horizon": HORIZON, **overrides}
    result = validate_frame(frame, suite, get_settings(), overrides=params)
    return {o.check for o in result.failed}


def test_forecast_checks(suite, forecast_frame: pd.DataFrame, features_frame: pd.DataFrame) -> None:
    active = sorted(features_frame["item_id"].unique())
    assert _checks_failed(forecast_frame, suite, active_items=active) == set()

    broken = forecast_frame.copy()
    broken.loc[3, "q500"] = broken.loc[3, "q600"] + 5  # quantiles out of order
    broken.loc[5, "y_hat"] = -1.0  # negative forecast
    broken = broken[~((broken["item_id"] == "10004") & (broken["horizon"] == 7))]  # incomplete horizon
    failed = _checks_failed(broken, suite, active_items=[*active, "99999"])  # a missing active item
    assert failed == {
        "q500_le_q600",
        "y_hat_non_negative",
        "horizon_complete",
        "horizon_reaches_h",
        "every_active_item_present",
    }
