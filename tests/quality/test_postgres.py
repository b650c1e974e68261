"""The gate on PostgreSQL: same suites, same results tables, through the same pandas path."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import postgres_settings, skip_or_fail
from tests.quality.conftest import CUTOFF, HORIZON, clean_features
from trendcast.exceptions import DataValidationError
from trendcast.quality import run_gate
from trendcast.quality.corruptions import corrupt_features
from trendcast.warehouse import connect

DATABASE = "trendcast_quality_test"  # its own database: other suites use the shared schemas of `test`


@pytest.fixture
def pg_settings():
    admin = postgres_settings("test")
    engine = sa.create_engine(admin.sqlalchemy_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(sa.text("select 1 from pg_database where datname = :d"), {"d": DATABASE}).scalar()
            if not exists:
                conn.execute(sa.text(f"create database {DATABASE}"))
    except sa.exc.DBAPIError as exc:
        skip_or_fail(f"cannot create database {DATABASE}: {exc}")
    finally:
        engine.dispose()
    settings = postgres_settings(DATABASE)
    features = clean_features()
    with connect(settings) as conn:
        for schema in ("marts", "ops"):
            conn.execute(sa.text(f"drop schema if exists {schema} cascade"))
        conn.execute(sa.text("create schema marts"))
        features.to_sql("ml_item_daily_sales", conn, schema="marts", index=False, method="multi", chunksize=1000)
    return settings


@pytest.mark.postgres
def test_gate_on_postgres(pg_settings) -> None:
    params = {"forecast_horizon": HORIZON}
    clean = run_gate(
        ["marts.ml_item_daily_sales"], expected_cutoff=CUTOFF, settings=pg_settings, parameters=params, data_docs=False
    )
    assert clean.passed, [(o.check, o.observed) for o in clean.failures]
    assert clean.suites[0].stats == {"rows": len(clean_features()), "items": 20}

    corrupt_features("negative_sales", pg_settings, i_know_this_is_a_demo=True)
    with pytest.raises(DataValidationError, match="units_sold_range"):
        run_gate(
            ["marts.ml_item_daily_sales"],
            expected_cutoff=CUTOFF,
            settings=pg_settings,
            parameters=params,
            data_docs=False,
        )
    with connect(pg_settings) as conn:
        runs = conn.execute(sa.text("select success from ops.dq_runs order by finished_at")).scalars().all()
        bad = conn.execute(
            sa.text(
                "select unexpected_values from ops.dq_results where not success and check_name = 'units_sold_range'"
            )
        ).scalar_one()
    assert runs == [True, False]
    assert bad == "[-7]"
