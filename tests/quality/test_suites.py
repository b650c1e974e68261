"""The suite files: valid GX suites, trendcast metadata complete, every parameter known to the runner."""

from __future__ import annotations

import json

import pytest

from trendcast.exceptions import ConfigError
from trendcast.quality.frames import DERIVED_FRAMES
from trendcast.quality.suites import EXPECTATIONS_DIR, load_suite, load_suites, resolve_suite

KNOWN_PARAMETERS = {
    "row_count_min",
    "row_count_max",
    "item_count_min",
    "item_count_max",
    "expected_cutoff",
    "min_plausible_date",
    "max_invoice_date",
    "forecast_horizon",
    "active_items",
}


def test_one_suite_per_validated_table() -> None:
    suites = load_suites()
    assert {s.table for s in suites.values()} == {
        "raw.transactions",
        "marts.ml_item_daily_sales",
        "forecasts.item_daily_forecast",
        "scores.customer_recommendations",
        "scores.customer_purchase_propensity",
        "scores.customer_segments",
        "scores.category_price_elasticity",
    }
    for name, suite in suites.items():
        assert suite.path.name == f"{name}.json"  # file named after the suite / table
        assert all(f in DERIVED_FRAMES for f in suite.frames.values())
        assert {p for e in suite.expectations for p in e.parameters} <= KNOWN_PARAMETERS


@pytest.mark.parametrize("path", sorted(EXPECTATIONS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_suite_files_are_valid_gx_suites(path) -> None:
    from great_expectations.core.expectation_suite import ExpectationSuite

    raw = json.loads(path.read_text())
    suite = ExpectationSuite(**raw)
    assert len(suite.expectations) == len(raw["expectations"])
    assert all(e.meta["severity"] in ("blocking", "warning") for e in suite.expectations)


def test_resolve_by_suite_table_or_bare_name() -> None:
    suites = load_suites()
    assert resolve_suite("marts.ml_item_daily_sales", suites).name == "ml_item_daily_sales"
    assert resolve_suite("item_daily_forecast", suites).table == "forecasts.item_daily_forecast"
    with pytest.raises(ConfigError, match="no expectation suite for table 'nope'"):
        resolve_suite("nope", suites)


def test_malformed_suite_is_rejected_with_its_path(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "name": "bad",
                "meta": {"trendcast": {"table": "marts.x"}},
                "expectations": [
                    {
                        "type": "expect_column_values_to_not_be_null",
                        "kwargs": {"column": "a"},
                        "meta": {"severity": "fatal"},
                    }
                ],
            }
        )
    )
    with pytest.raises(ConfigError, match="bad.json.*severity 'fatal'"):
        load_suite(bad)
