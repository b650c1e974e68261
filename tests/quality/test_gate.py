"""The gate on corrupted feature data: each corruption fails the named expectation and forecasts stay untouched."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.quality.conftest import CUTOFF, HORIZON, clean_features, clean_forecast, write_tables
from trendcast.exceptions import DataValidationError
from trendcast.quality import run_gate, validate_tables
from trendcast.quality.corruptions import CORRUPTIONS, corrupt_features
from trendcast.quality.suites import load_suites
from trendcast.settings import Settings, get_settings

FEATURES = "marts.ml_item_daily_sales"
PARAMS = {"forecast_horizon": HORIZON}


def _forecast_bytes(db: Path, tmp: Path) -> bytes:
    out = tmp / "forecast.csv"
    with duckdb.connect(str(db)) as con:
        con.execute(f"copy (select * from forecasts.item_daily_forecast order by all) to '{out}' (header)")
    return out.read_bytes()


@pytest.fixture(scope="module")
def clean_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB with a clean mart and forecast, plus one passed gate run in ops (the row-count baseline)."""
    folder = tmp_path_factory.mktemp("clean_wh")
    db = folder / "warehouse.duckdb"
    write_tables(db, clean_features(), clean_forecast(clean_features()))
    settings = Settings(state_dir=folder / "state", duckdb_path=db)
    result = run_gate([FEATURES], expected_cutoff=CUTOFF, settings=settings, parameters=PARAMS, data_docs=False)
    assert result.passed, [(o.check, o.observed) for o in result.failures]
    return db


@pytest.fixture
def warehouse(clean_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(clean_warehouse, db)
    monkeypatch.setenv("TRENDCAST_DUCKDB_PATH", str(db))
    get_settings.cache_clear()
    return db


def test_clean_data_passes_and_records_results(warehouse: Path) -> None:
    result = run_gate([FEATURES], expected_cutoff=CUTOFF, parameters=PARAMS)
    assert result.passed
    suite = result.suites[0]
    assert suite.n_rows == len(clean_features())
    assert suite.stats == {"rows": len(clean_features()), "items": 20}
    # with a previous run, the row-count check is no longer skipped and passes
    by_check = {o.check: o for o in suite.outcomes}
    assert not by_check["row_count_vs_previous_run"].skipped
    assert by_check["row_count_vs_previous_run"].observed_value == len(clean_features())
    assert by_check["fresh_to_cutoff"].success
    with duckdb.connect(str(warehouse)) as con:
        rows = con.execute(
            "select check_name, success from ops.dq_results where run_id = ?", [result.run_id]
        ).fetchall()
        runs = con.execute(
            "select suite, success, n_rows from ops.dq_runs where run_id = ?", [result.run_id]
        ).fetchall()
    assert len(rows) == len(suite.outcomes) and all(ok for _, ok in rows)
    assert runs == [("ml_item_daily_sales", True, len(clean_features()))]
    page = Path(suite.data_docs_path)
    assert page.is_file() and "ml_item_daily_sales" in page.read_text()
    assert (get_settings().state_path / "data_docs" / "index.html").is_file()
    assert not (get_settings().state_path / "outbox").exists()


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corruption_fails_named_expectation_and_leaves_forecasts_unchanged(
    corruption: str, warehouse: Path, tmp_path: Path
) -> None:
    check, expectation_type = CORRUPTIONS[corruption].check, CORRUPTIONS[corruption].expectation_type
    before = _forecast_bytes(warehouse, tmp_path)
    corrupt_features(corruption, i_know_this_is_a_demo=True)

    with pytest.raises(DataValidationError) as error:
        run_gate([FEATURES], expected_cutoff=CUTOFF, parameters=PARAMS, data_docs=False)

    assert check in str(error.value) and expectation_type in str(error.value)
    with duckdb.connect(str(warehouse)) as con:
        failed = dict(
            con.execute(
                "select check_name, expectation_type from ops.dq_results r join ops.dq_runs u using (run_id, suite) "
                "where not r.success and r.severity = 'blocking' "
                "and u.finished_at = (select max(finished_at) from ops.dq_runs)"
            ).fetchall()
        )
    assert failed.get(check) == expectation_type, failed
    assert _forecast_bytes(warehouse, tmp_path) == before
    outbox = list((get_settings().state_path / "outbox").glob("*.eml"))
    assert len(outbox) == 1
    message = email.message_from_bytes(outbox[0].read_bytes(), policy=email.policy.default)
    assert "ml_item_daily_sales" in message["Subject"]
    assert check in message.get_body(("plain",)).get_content()


def test_corrupted_run_does_not_become_the_baseline(warehouse: Path) -> None:
    """After a failed run with a dropped item set, the next run still compares with the last good one."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(CORRUPTIONS["dropped_item_set"].sql)
    for _ in range(2):  # had the first failed run become the baseline, the second would pass
        result = validate_tables([FEATURES], expected_cutoff=CUTOFF, parameters=PARAMS, alert=False)
        assert not result.passed
        item_check = next(o for o in result.failures if o.check == "item_count_vs_previous_run")
        assert item_check.observed_value == 15  # 20 items in the clean baseline, a quarter dropped
    with duckdb.connect(str(warehouse)) as con:
        runs = con.execute("select success, count(*) from ops.dq_runs group by all order by all").fetchall()
    assert runs == [(False, 2), (True, 1)]


def test_warnings_are_reported_but_do_not_block(warehouse: Path) -> None:
    # 10 % unknown prices: the warning-level "price_mostly_known" fails, nothing blocking does
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"update {FEATURES} set price = null where item_id in ('10001', '10002')")
    result = run_gate([FEATURES], expected_cutoff=CUTOFF, parameters=PARAMS, data_docs=False)
    assert result.passed
    assert [o.check for o in result.warnings] == ["price_mostly_known"]
    assert not (get_settings().state_path / "outbox").exists()


def test_missing_table_fails_the_gate(tmp_path: Path) -> None:
    result = validate_tables(["raw.transactions"], expected_cutoff=CUTOFF, alert=False)
    assert not result.passed
    assert result.failures[0].check == "table_exists"
    everything = validate_tables(None, expected_cutoff=CUTOFF, alert=False)  # --all: absent tables skipped
    assert everything.passed
    assert {s.suite: s.outcomes[0].skipped for s in everything.suites} == dict.fromkeys(load_suites(), True)


def test_dq_results_json_columns_are_parseable(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(CORRUPTIONS["negative_sales"].sql)
    result = validate_tables([FEATURES], expected_cutoff=CUTOFF, parameters=PARAMS, alert=False)
    with duckdb.connect(str(warehouse)) as con:
        values, observed = con.execute(
            "select unexpected_values, observed_value from ops.dq_results where run_id = ? and check_name = ?",
            [result.run_id, "units_sold_range"],
        ).fetchone()
    assert json.loads(values) == [-7]
    assert observed is None


@pytest.mark.smtp
def test_failed_gate_alert_arrives_over_smtp(warehouse: Path, tmp_path: Path) -> None:
    """End to end: corrupted features -> gate fails -> the alert reaches a loopback SMTP server."""
    from aiosmtpd.controller import Controller

    from tests.test_alerts import RECIPIENTS, _Collector, _free_port

    handler, port = _Collector(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with duckdb.connect(str(warehouse)) as con:
            con.execute(CORRUPTIONS["negative_sales"].sql)
            con.execute(CORRUPTIONS["duplicated_keys"].sql)
        settings = Settings(
            state_dir=tmp_path / "state",
            duckdb_path=warehouse,
            smtp_host="127.0.0.1",
            smtp_port=port,
            alert_recipients=",".join(RECIPIENTS),
        )
        with pytest.raises(DataValidationError):
            run_gate([FEATURES], expected_cutoff=CUTOFF, settings=settings, parameters=PARAMS, data_docs=False)
    finally:
        controller.stop()
    assert len(handler.envelopes) == 1 and sorted(handler.envelopes[0].rcpt_tos) == sorted(RECIPIENTS)
    message = email.message_from_bytes(handler.envelopes[0].content, policy=email.policy.default)
    assert message["Subject"].startswith("[trendcast] Data validation FAILED: ml_item_daily_sales (3 blocking) run dq-")
    text = message.get_body(("plain",)).get_content()
    for check, type_ in (
        ("units_sold_range", "expect_column_values_to_be_between"),
        ("key_unique", "expect_compound_columns_to_be_unique"),
        ("day_loaded_once", "expect_column_values_to_be_between"),
    ):
        assert check in text and type_ in text
    assert "sample bad values: -7" in text
    assert "'10000'" in text  # the duplicated key's item
    assert not (tmp_path / "state" / "outbox").exists()


def test_tripled_units_on_a_day_is_a_warning(warehouse: Path) -> None:
    """Units x3 with unchanged orders: reported (a wholesale basket can look the same), never blocking."""
    corrupt_features("tripled_units", i_know_this_is_a_demo=True)
    result = run_gate([FEATURES], expected_cutoff=CUTOFF, parameters=PARAMS, data_docs=False)
    assert result.passed
    warning = next(o for o in result.warnings if o.check == "daily_sales_level")
    assert warning.unexpected_count == 1
    (bad,) = warning.sample()  # derived-frame samples name the day
    assert bad["sale_date"] == "2024-04-24" and bad["median_item_units_per_order_ratio"] > 2.6
