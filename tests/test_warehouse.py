from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import postgres_settings
from trendcast.settings import Settings
from trendcast.warehouse import append_frame, connect, replace_partition, row_count, table_exists

DDL = "create table if not exists tc_wh_test.t (d date, item varchar, value double precision)"


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, settings: Settings):
    wh = postgres_settings() if request.param == "postgres" else settings
    with connect(wh) as conn:
        conn.exec_driver_sql("drop schema if exists tc_wh_test cascade")
        conn.exec_driver_sql("create schema tc_wh_test")
        conn.exec_driver_sql(DDL)
    yield wh
    with connect(wh) as conn:
        conn.exec_driver_sql("drop schema if exists tc_wh_test cascade")


def frame(day: date, values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"d": [day] * len(values), "item": [f"i{k}" for k in range(len(values))], "value": values})


def test_append_handles_quotes_newlines_and_nulls(warehouse: Settings) -> None:
    hostile = ["x'); drop table tc_wh_test.t; --", 'a "quoted", comma\nnewline', None]
    data = pd.DataFrame({"d": [date(2024, 1, 1)] * 3, "item": hostile, "value": [1.0, None, 3.5]})
    with connect(warehouse) as conn:
        assert append_frame(conn, "tc_wh_test", "t", data) == 3
    with connect(warehouse) as conn:
        rows = conn.execute(sa.text("select item, value from tc_wh_test.t order by value nulls first")).all()
    assert [r[0] for r in rows] == [hostile[1], hostile[0], None]
    assert rows[0][1] is None and rows[2][1] == 3.5


def test_replace_partition_is_idempotent_and_scoped(warehouse: Settings) -> None:
    for _ in range(2):
        with connect(warehouse) as conn:
            replace_partition(conn, "tc_wh_test", "t", frame(date(2024, 1, 1), [1, 2, 3]), {"d": date(2024, 1, 1)})
            replace_partition(conn, "tc_wh_test", "t", frame(date(2024, 1, 2), [4, 5]), {"d": date(2024, 1, 2)})
    with connect(warehouse) as conn:
        assert row_count(conn, "tc_wh_test", "t") == 5
        total = conn.execute(sa.text("select sum(value) from tc_wh_test.t")).scalar_one()
    assert total == 15


def test_failed_replace_leaves_previous_rows(warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with connect(warehouse) as conn:
        replace_partition(conn, "tc_wh_test", "t", frame(date(2024, 1, 1), [1, 2, 3]), {"d": date(2024, 1, 1)})

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("trendcast.warehouse.append_frame", explode)
    with pytest.raises(RuntimeError, match="disk full"), connect(warehouse) as conn:
        replace_partition(conn, "tc_wh_test", "t", frame(date(2024, 1, 1), [9]), {"d": date(2024, 1, 1)})
    with connect(warehouse) as conn:
        values = [r[0] for r in conn.execute(sa.text("select value from tc_wh_test.t order by value"))]
        assert table_exists(conn, "tc_wh_test", "t")
    assert values == [1, 2, 3]
