"""One calendar: the dbt seed's bank holidays, ISO day of week as dbt, next Christmas by date."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd

from trendcast.bank_holidays import holiday_names, iso_day_of_week, next_christmas, uk_bank_holidays
from trendcast.forecasting.features import calendar_features

REPO = Path(__file__).resolve().parents[1]


def test_moved_spring_holidays_are_in_the_calendar() -> None:
    """The rule-based Python copy this replaced lacked both (jubilee years move the spring holiday)."""
    days = set(uk_bank_holidays("2012-01-01", "2022-12-31").date)
    assert {dt.date(2012, 6, 4), dt.date(2012, 6, 5), dt.date(2022, 6, 2), dt.date(2022, 6, 3)} <= days
    assert dt.date(2012, 5, 28) not in days and dt.date(2022, 5, 30) not in days
    assert holiday_names()[dt.date(2020, 5, 8)].startswith("Early May")


def test_features_flag_exactly_the_seed_days() -> None:
    dates = pd.date_range("2009-01-01", "2027-12-31")
    flagged = dates[calendar_features(dates)["is_uk_bank_holiday"].to_numpy() == 1]
    assert set(flagged.date) == set(holiday_names())


def test_day_of_week_is_iso_in_python_and_dbt() -> None:
    monday, sunday = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-07")
    assert iso_day_of_week(pd.DatetimeIndex([monday, sunday])).tolist() == [1, 7]
    assert calendar_features(pd.DatetimeIndex([monday, sunday]))["day_of_week"].tolist() == [1, 7]
    sql = (REPO / "dbt_project" / "models" / "intermediate" / "int_calendar.sql").read_text()
    assert re.search(r"iso_day_of_week\(.*\)\s*}}\s+as day_of_week", sql)
    assert "day_of_week in (6, 7) as is_weekend" in sql


def test_next_christmas_counts_the_leap_day() -> None:
    assert next_christmas(dt.date(2011, 12, 26)) == dt.date(2012, 12, 25)  # +365 days would land on the 24th
    assert (next_christmas(dt.date(2011, 12, 26)) - dt.date(2011, 12, 26)).days == 365
    assert next_christmas(dt.date(2012, 12, 25)) == dt.date(2012, 12, 25)
    cal = calendar_features(pd.to_datetime(["2011-12-26", "2012-02-29", "2012-12-26"]))
    assert cal["days_to_christmas"].tolist() == [365, 300, 364]


def test_neural_christmas_ramp_by_date() -> None:
    from trendcast.forecasting.models.neural_data import calendar_features as neural_calendar

    days = pd.to_datetime(["2012-12-24", "2012-12-25", "2012-12-26"]).to_numpy().astype("datetime64[D]")
    ramp = neural_calendar(days.astype(np.int64))[:, 11]
    assert ramp[1] == 1.0 and ramp[0] < 1.0 and ramp[2] == 0.0
