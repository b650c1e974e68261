"""Deliberate corruptions of the feature mart: the gate's test cases and the ``make demo`` failure path.

Each corruption is one SQL statement on ``marts.ml_item_daily_sales`` (valid on DuckDB and PostgreSQL) and
names the check of ``expectations/ml_item_daily_sales.json`` that must catch it. Never run on real data:
``corrupt_features`` refuses unless told the warehouse is a throwaway one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from trendcast.exceptions import ConfigError
from trendcast.quality.gate import default_expected_cutoff, run_gate
from trendcast.quality.outcomes import GateResult
from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect

__all__ = ["Corruption", "CORRUPTIONS", "WARNING_CORRUPTIONS", "corrupt_features", "demo_gate"]

log = logging.getLogger(__name__)

FEATURES = "marts.ml_item_daily_sales"
_ITEMS = f"(select item_id from {FEATURES} group by item_id order by item_id"
_LAST = f"(select max(sale_date) from {FEATURES})"


@dataclass(frozen=True)
class Corruption:
    sql: str
    check: str
    expectation_type: str
    description: str


# SQL is written against any mart (it picks items and dates from the data), so the demo can use it too.
CORRUPTIONS: dict[str, Corruption] = {
    "null_keys": Corruption(
        # the dbt contract makes item_id NOT NULL: drop that first, as a broken build would have
        f"alter table {FEATURES} alter column item_id drop not null;\n"
        f"update {FEATURES} set item_id = null where item_id in {_ITEMS} limit 2) and sale_date = {_LAST}",
        "item_id_not_null",
        "expect_column_values_to_not_be_null",
        "item ids nulled on the last day",
    ),
    "duplicated_keys": Corruption(
        f"insert into {FEATURES} select * from {FEATURES} where item_id in {_ITEMS} limit 1) "
        f"and sale_date > {_LAST} - 10",
        "key_unique",
        "expect_compound_columns_to_be_unique",
        "ten days of one item loaded twice",
    ),
    "negative_sales": Corruption(
        f"update {FEATURES} set units_sold = -7 where item_id in {_ITEMS} limit 1) and sale_date = {_LAST} - 3",
        "units_sold_range",
        "expect_column_values_to_be_between",
        "a negative units_sold",
    ),
    "missing_day": Corruption(
        f"delete from {FEATURES} where sale_date = {_LAST} - 30",
        "no_missing_day",
        "expect_column_values_to_be_between",
        "one whole day missing from the calendar",
    ),
    "stale_data": Corruption(
        f"delete from {FEATURES} where sale_date > {_LAST} - 3",
        "fresh_to_cutoff",
        "expect_column_max_to_be_between",
        "the last three days missing (stale mart)",
    ),
    "tripled_day": Corruption(
        f"insert into {FEATURES} select * from {FEATURES} where sale_date = {_LAST} - 5 "
        f"union all select * from {FEATURES} where sale_date = {_LAST} - 5",
        "day_loaded_once",
        "expect_column_values_to_be_between",
        "one day loaded three times",
    ),
    "dropped_item_set": Corruption(
        f"delete from {FEATURES} where item_id in (select item_id from {FEATURES} group by item_id "
        "order by item_id desc limit (select count(distinct item_id) / 4 from marts.ml_item_daily_sales))",
        "item_count_vs_previous_run",
        "expect_table_row_count_to_be_between",
        "a quarter of the items dropped",
    ),
    "out_of_range_prices": Corruption(
        f"update {FEATURES} set price = 250000.0 where item_id in {_ITEMS} limit 1) and sale_date > {_LAST} - 3",
        "price_range",
        "expect_column_values_to_be_between",
        "prices of 250,000",
    ),
    "wrong_type": Corruption(
        f"alter table {FEATURES} alter units_sold type varchar",
        "units_sold_is_numeric",
        "expect_column_values_to_be_in_type_list",
        "units_sold stored as text",
    ),
    "empty_table": Corruption(
        f"delete from {FEATURES}", "not_empty", "expect_table_row_count_to_be_between", "every row deleted"
    ),
    "item_calendar_short": Corruption(
        f"delete from {FEATURES} where item_id in {_ITEMS} limit 1) and sale_date > {_LAST} - 5",
        "item_calendar_reaches_cutoff",
        "expect_column_values_to_be_between",
        "one item's calendar stops early",
    ),
    "null_units": Corruption(
        f"alter table {FEATURES} alter column units_sold drop not null;\n"
        f"update {FEATURES} set units_sold = null where item_id in {_ITEMS} limit 1) and sale_date = {_LAST} - 2",
        "units_sold_not_null",
        "expect_column_values_to_not_be_null",
        "a null units_sold",
    ),
}


# Reported as warnings (the gate passes): plausible in real shops, so they must not stop the pipeline.
WARNING_CORRUPTIONS: dict[str, Corruption] = {
    "tripled_units": Corruption(
        f"update {FEATURES} set units_sold = units_sold * 3, units_net = units_net * 3 where sale_date = {_LAST} - 5",
        "daily_sales_level",
        "expect_column_values_to_be_between",
        "one day's units multiplied by three (orders unchanged)",
    ),
}


def corrupt_features(kind: str, settings: Settings | None = None, *, i_know_this_is_a_demo: bool = False) -> None:
    """Apply one corruption to the feature mart in place (demo and tests only)."""
    known = {**CORRUPTIONS, **WARNING_CORRUPTIONS}
    if kind not in known:
        raise ConfigError(f"unknown corruption {kind!r}; choose one of {', '.join(sorted(known))}")
    if not i_know_this_is_a_demo:
        raise ConfigError("corrupt_features damages the feature mart: pass i_know_this_is_a_demo=True")
    with connect(settings) as conn:
        for statement in known[kind].sql.split(";\n"):
            conn.execute(sa.text(statement))
    log.warning("corrupted %s: %s", FEATURES, known[kind].description)


def demo_gate(settings: Settings | None = None, *, corrupt: str | None = None) -> list[GateResult]:
    """The demo's gate: validate the clean marts (the baseline), then optionally corrupt and validate again.

    Returns the gate results in order; the corrupted run fails and writes its alert to the outbox (or SMTP).
    """
    settings = settings or get_settings()
    cutoff = default_expected_cutoff(settings)
    tables = ["raw.transactions", FEATURES]
    results = [run_gate(tables, expected_cutoff=cutoff, settings=settings, raise_on_failure=False)]
    if corrupt:
        corrupt_features(corrupt, settings, i_know_this_is_a_demo=True)
        results.append(run_gate([FEATURES], expected_cutoff=cutoff, settings=settings, raise_on_failure=False))
    return results
