"""The shop's calendar: trading days, England & Wales bank holidays and the planted day-level multipliers."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

__all__ = [
    "DOW_MULTIPLIERS",
    "YEARLY_AMPLITUDE",
    "YEARLY_PEAK_DAY_OF_YEAR",
    "DECEMBER_RAMP",
    "REDUCED_HOLIDAY_FACTOR",
    "CLOSED_HOLIDAY_NAMES",
    "SHUTDOWN",
    "easter_sunday",
    "england_wales_bank_holidays",
    "calendar_frame",
]

# Monday..Sunday. The real shop never trades on Saturdays and is quieter on Fridays and Sundays.
DOW_MULTIPLIERS: tuple[float, ...] = (1.0, 1.08, 1.02, 1.12, 0.86, 0.0, 0.68)
# Smooth yearly wave (1 + A cos(2 pi (doy - peak) / 365.25)): autumn high, late-winter low.
YEARLY_AMPLITUDE = 0.18
YEARLY_PEAK_DAY_OF_YEAR = 300
# Pre-Christmas ramp: multiplier grows linearly from the first to the second value over 1-23 December.
DECEMBER_RAMP: tuple[float, float] = (1.3, 2.0)
DECEMBER_RAMP_DAYS = (1, 23)
# Christmas / New Year shutdown: closed from 24 December to 3 January inclusive (as the real shop).
SHUTDOWN: tuple[tuple[int, int], tuple[int, int]] = ((12, 24), (1, 3))
# Bank holidays with these names close the shop; the others only reduce trading to this factor.
CLOSED_HOLIDAY_NAMES = frozenset({"New Year's Day", "Good Friday", "Easter Monday", "Christmas Day", "Boxing Day"})
REDUCED_HOLIDAY_FACTOR = 0.3

# One-off changes to the England & Wales list (moved or extra days), from gov.uk.
_SPECIAL_HOLIDAYS: dict[date, str] = {
    date(2011, 4, 29): "Royal wedding",
    date(2012, 6, 5): "Diamond Jubilee",
    date(2022, 6, 3): "Platinum Jubilee",
    date(2022, 9, 19): "State funeral of Queen Elizabeth II",
    date(2023, 5, 8): "Coronation of King Charles III",
}
_MOVED_HOLIDAYS: dict[tuple[int, str], date] = {
    (2012, "Spring bank holiday"): date(2012, 6, 4),
    (2020, "Early May bank holiday"): date(2020, 5, 8),
    (2022, "Spring bank holiday"): date(2022, 6, 2),
}


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _first_monday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7)


def _last_monday(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=last.weekday())


def england_wales_bank_holidays(year: int) -> dict[date, str]:
    """England & Wales bank holidays of one year, with weekend substitutes and the one-off changes."""
    out: dict[date, str] = {}
    new_year = date(year, 1, 1)
    if new_year.weekday() >= 5:
        new_year += timedelta(days=7 - new_year.weekday())
    out[new_year] = "New Year's Day"
    easter = easter_sunday(year)
    out[easter - timedelta(days=2)] = "Good Friday"
    out[easter + timedelta(days=1)] = "Easter Monday"
    regular = {
        "Early May bank holiday": _first_monday(year, 5),
        "Spring bank holiday": _last_monday(year, 5),
        "Summer bank holiday": _last_monday(year, 8),
    }
    for name, day in regular.items():
        out[_MOVED_HOLIDAYS.get((year, name), day)] = name
    christmas, boxing = date(year, 12, 25), date(year, 12, 26)
    if christmas.weekday() == 5:  # Sat: substitutes Mon 27 and Tue 28
        christmas, boxing = date(year, 12, 27), date(year, 12, 28)
    elif christmas.weekday() == 6:  # Sun: Boxing Day Mon 26, Christmas substitute Tue 27
        christmas = date(year, 12, 27)
    elif boxing.weekday() == 5:  # Fri Christmas, Sat Boxing Day: substitute Mon 28
        boxing = date(year, 12, 28)
    out[christmas] = "Christmas Day"
    out[boxing] = "Boxing Day"
    out.update({d: n for d, n in _SPECIAL_HOLIDAYS.items() if d.year == year})
    return dict(sorted(out.items()))


def _in_shutdown(day: date) -> bool:
    (m0, d0), (m1, d1) = SHUTDOWN
    return (day.month, day.day) >= (m0, d0) or (day.month, day.day) <= (m1, d1)


def calendar_frame(start: date, days: int) -> pd.DataFrame:
    """One row per calendar day with the planted shop-level multipliers.

    Columns: ``date`` (datetime64[D]), ``dow`` (0 = Monday), ``is_open``, ``closed_reason``, ``holiday``,
    ``dow_mult``, ``yearly_mult``, ``december_mult``, ``holiday_mult`` and ``multiplier``: their product,
    normalised so that its mean over all calendar days is 1. Expected sale lines of a day are
    ``lines_per_day * multiplier`` (times a shop-wide anomaly factor on the few anomalous days).
    """
    dates = pd.date_range(pd.Timestamp(start), periods=days, freq="D")
    dow = dates.dayofweek.to_numpy()
    doy = dates.dayofyear.to_numpy()
    holidays: dict[date, str] = {}
    for year in range(dates[0].year, dates[-1].year + 1):
        holidays.update(england_wales_bank_holidays(year))
    py_dates = [d.date() for d in dates]
    holiday = np.array([holidays.get(d, "") for d in py_dates], dtype=object)
    shutdown = np.array([_in_shutdown(d) for d in py_dates])
    dow_mult = np.asarray(DOW_MULTIPLIERS)[dow]
    yearly = 1.0 + YEARLY_AMPLITUDE * np.cos(2 * np.pi * (doy - YEARLY_PEAK_DAY_OF_YEAR) / 365.25)
    month, mday = dates.month.to_numpy(), dates.day.to_numpy()
    d0, d1 = DECEMBER_RAMP_DAYS
    in_ramp = (month == 12) & (mday >= d0) & (mday <= d1)
    ramp = DECEMBER_RAMP[0] + (DECEMBER_RAMP[1] - DECEMBER_RAMP[0]) * (mday - d0) / (d1 - d0)
    december = np.where(in_ramp, ramp, 1.0)
    closed_holiday = np.isin(holiday, list(CLOSED_HOLIDAY_NAMES))
    holiday_mult = np.where(holiday == "", 1.0, np.where(closed_holiday, 0.0, REDUCED_HOLIDAY_FACTOR))
    holiday_mult = np.where(shutdown, 0.0, holiday_mult)
    raw = dow_mult * yearly * december * holiday_mult
    reason = np.where(
        shutdown, "christmas shutdown", np.where(dow == 5, "saturday", np.where(raw == 0, "bank holiday", ""))
    )
    mean = raw.mean()
    return pd.DataFrame(
        {
            "date": dates.to_numpy().astype("datetime64[D]"),
            "dow": dow,
            "is_open": raw > 0,
            "closed_reason": reason,
            "holiday": holiday,
            "dow_mult": dow_mult,
            "yearly_mult": yearly,
            "december_mult": december,
            "holiday_mult": holiday_mult,
            "multiplier": raw / mean if mean > 0 else raw,
        }
    )
