"""The one holiday calendar: England & Wales bank holidays from the dbt seed ``seeds/uk_bank_holidays.csv``.

dbt's ``int_calendar`` joins the same seed, so the marts' ``is_uk_bank_holiday`` and every Python feature agree
(the rule-based copies this replaced missed the moved spring holidays 2012-06-04 and 2022-06-02). Day of week
follows dbt's ISO convention everywhere: 1 = Monday … 7 = Sunday.
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import lru_cache

import pandas as pd

from trendcast.settings import DBT_PROJECT_DIR

__all__ = ["SEED_PATH", "holiday_names", "uk_bank_holidays", "iso_day_of_week", "next_christmas"]

SEED_PATH = DBT_PROJECT_DIR / "seeds" / "uk_bank_holidays.csv"


@lru_cache(maxsize=1)
def holiday_names() -> dict[dt.date, str]:
    """Every bank holiday of the seed with its name (``holiday_date``, ``holiday_name``)."""
    with SEED_PATH.open(newline="", encoding="utf-8") as handle:
        return {dt.date.fromisoformat(row["holiday_date"]): row["holiday_name"] for row in csv.DictReader(handle)}


def uk_bank_holidays(start: str | pd.Timestamp, end: str | pd.Timestamp) -> pd.DatetimeIndex:
    """Bank holidays between ``start`` and ``end`` (inclusive); years the seed does not cover have none."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    return pd.DatetimeIndex(sorted(pd.Timestamp(d) for d in holiday_names() if start <= pd.Timestamp(d) <= end))


def iso_day_of_week(ds: pd.DatetimeIndex) -> pd.Index:
    """1 = Monday … 7 = Sunday, as dbt's ``iso_day_of_week`` macro."""
    return pd.DatetimeIndex(ds).dayofweek + 1


def next_christmas(day: dt.date) -> dt.date:
    """The next 25 December on or after ``day`` (by date, so leap years count their extra day)."""
    this_year = dt.date(day.year, 12, 25)
    return this_year if day <= this_year else dt.date(day.year + 1, 12, 25)
