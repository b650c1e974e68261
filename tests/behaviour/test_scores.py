"""scores.* write-back: contract checks, and one scoring date replaced in one transaction (DuckDB and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from trendcast import warehouse
from trendcast.behaviour.scores import PROPENSITY_TABLE, SEGMENTS_TABLE, prepare_score_rows, write_scores
from trendcast.exceptions import DataValidationError, SchemaContractError
from trendcast.settings import Settings, get_settings

try:
    from tests.conftest import postgres_settings
except ImportError:  # pragma: no cover - depends on how pytest put the repository on sys.path
    from conftest import postgres_settings

D1, D2 = dt.date(2011, 12, 1), dt.date(2011, 12, 2)
PG_DATABASE = "trendcast_behaviour_test_" + os.environ.get("PYTEST_XDIST_WORKER", "main")


def propensity_frame(n: int, version: str = "1", offset: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_key": [f"{i:064x}" for i in range(n)],
            "purchase_probability": [min(1.0, 0.1 + offset + i / (2 * n)) for i in range(n)],
            "propensity_decile": [1 + i * 10 // n for i in range(n)],
            "horizon_days": 30,
            "recency_days": list(range(n)),
            "frequency": [1 + i for i in range(n)],
            "monetary": [10.0 * i for i in range(n)],
            "model_alias": "champion",
            "model_name": "trendcast-customer-purchase-propensity",
            "model_version": version,
            "mlflow_run_id": f"run{version}",
        }
    )


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def wh_settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    if request.param == "duckdb":
        yield get_settings()
        return
    settings = postgres_settings(PG_DATABASE, create=True)
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("drop schema if exists scores cascade")
    yield settings
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("drop schema if exists scores cascade")


def read(settings: Settings) -> pd.DataFrame:
    with warehouse.connect(settings) as conn:
        return pd.read_sql(
            sa.text("select * from scores.customer_purchase_propensity order by scoring_date, customer_key"), conn
        )


def test_rewriting_a_date_replaces_it_and_leaves_other_dates(wh_settings: Settings) -> None:
    assert write_scores(propensity_frame(50), PROPENSITY_TABLE, scoring_date=D1, settings=wh_settings) == 50
    assert write_scores(propensity_frame(40), PROPENSITY_TABLE, scoring_date=D2, settings=wh_settings) == 40
    # rerun of D1 with a new model and fewer customers: exactly the new rows for D1, D2 untouched
    write_scores(propensity_frame(30, version="2", offset=0.2), PROPENSITY_TABLE, scoring_date=D1, settings=wh_settings)
    rows = read(wh_settings)
    per_date = rows.groupby(pd.to_datetime(rows["scoring_date"]).dt.date)["model_version"].agg(["count", "max"])
    assert per_date.to_dict("index") == {D1: {"count": 30, "max": "2"}, D2: {"count": 40, "max": "1"}}
    d1 = rows[pd.to_datetime(rows["scoring_date"]).dt.date == D1]
    assert d1["purchase_probability"].iloc[0] == pytest.approx(0.3)
    # the same rerun again is idempotent
    write_scores(propensity_frame(30, version="2", offset=0.2), PROPENSITY_TABLE, scoring_date=D1, settings=wh_settings)
    again = read(wh_settings)
    assert len(again) == 70
    pd.testing.assert_frame_equal(again.drop(columns="written_at"), rows.drop(columns="written_at"))


def test_a_rejected_frame_leaves_the_previous_rows(wh_settings: Settings) -> None:
    write_scores(propensity_frame(20), PROPENSITY_TABLE, scoring_date=D1, settings=wh_settings)
    bad = propensity_frame(20, version="9")
    bad.loc[3, "purchase_probability"] = float("nan")
    with pytest.raises(DataValidationError, match="purchase_probability"):
        write_scores(bad, PROPENSITY_TABLE, scoring_date=D1, settings=wh_settings)
    rows = read(wh_settings)
    assert len(rows) == 20 and set(rows["model_version"]) == {"1"}


def test_prepare_rows_checks_columns_and_key() -> None:
    with pytest.raises(SchemaContractError, match="segment_name"):
        prepare_score_rows(propensity_frame(3), SEGMENTS_TABLE, scoring_date=D1)
    duplicated = pd.concat([propensity_frame(3), propensity_frame(3).head(1)])
    with pytest.raises(DataValidationError, match="duplicated key"):
        prepare_score_rows(duplicated, PROPENSITY_TABLE, scoring_date=D1)
    rows = prepare_score_rows(propensity_frame(3), PROPENSITY_TABLE, scoring_date="2011-12-01")
    assert list(rows.columns) == list(PROPENSITY_TABLE.columns)
    assert (rows["scoring_date"] == pd.Timestamp(D1)).all() and rows["written_at"].notna().all()
