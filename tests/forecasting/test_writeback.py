"""Forecast write-back: contract columns, idempotent replace by date, atomicity on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from trendcast import warehouse
from trendcast.exceptions import DataValidationError, SchemaContractError
from trendcast.forecasting import publish
from trendcast.forecasting.models.base import QUANTILES, quantile_columns
from trendcast.forecasting.registry import ModelInfo
from trendcast.forecasting.writeback import FORECAST_COLUMNS, prepare_forecast_rows, write_forecasts
from trendcast.settings import Settings, get_settings

try:
    from tests.conftest import postgres_settings
except ImportError:  # pragma: no cover - depends on how pytest put the repository on sys.path
    from conftest import postgres_settings

H = 28
D1 = dt.date(2011, 12, 1)
D2 = dt.date(2011, 12, 2)
V1 = ModelInfo(name="trendcast-item-demand", version="1", alias="champion", run_id="run1")
V2 = ModelInfo(name="trendcast-item-demand", version="2", alias="champion", run_id="run2")
COMPARED = [c for c in FORECAST_COLUMNS if c != "written_at"]


def make_forecast(cutoff: dt.date, n_items: int = 5, h: int = H, seed: int = 0) -> pd.DataFrame:
    """A Forecaster-shaped frame with the flaws real models produce: negative lows and crossing quantiles."""
    rng = np.random.default_rng(seed)
    ids = np.repeat([f"2{i:04d}" for i in range(n_items)], h)
    ds = np.tile(pd.Timestamp(cutoff) + pd.to_timedelta(np.arange(1, h + 1), unit="D"), n_items)
    y_hat = rng.gamma(2.0, 2.0, len(ids))
    frame = pd.DataFrame({"unique_id": ids, "ds": ds, "y_hat": y_hat})
    for q, column in zip(QUANTILES, quantile_columns(), strict=True):
        frame[column] = y_hat + (q - 0.5) * 8  # the low quantiles go below zero
    frame[["q400", "q600"]] = frame[["q600", "q400"]].to_numpy()  # crossing quantiles
    return frame


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def wh_settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    if request.param == "duckdb":
        yield get_settings()
        return
    settings = postgres_settings("trendcast_writeback", create=True)
    drop = "; ".join(f"drop schema if exists {schema} cascade" for schema in ("forecasts", "ops", "marts"))
    with warehouse.connect(settings) as conn:
        conn.execute(sa.text(drop))
    yield settings
    with warehouse.connect(settings) as conn:
        conn.execute(sa.text(drop))


def read_date(settings: Settings, forecast_date: dt.date) -> pd.DataFrame:
    with warehouse.connect(settings) as conn:
        frame = pd.read_sql(
            sa.text(
                "select * from forecasts.item_daily_forecast where forecast_date = :d order by item_id, target_date"
            ),
            conn,
            params={"d": forecast_date},
        )
    return frame


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[COMPARED].copy()
    for column in ("forecast_date", "target_date"):
        out[column] = pd.to_datetime(out[column])
    out["horizon"] = out["horizon"].astype(int)
    return out.reset_index(drop=True)


def test_prepare_rows_clips_sorts_and_maps_intervals() -> None:
    rows = prepare_forecast_rows(make_forecast(D1), forecast_date=D1, model_info=V1, dbt_invocation_id="inv-1")
    assert list(rows.columns) == list(FORECAST_COLUMNS)
    assert len(rows) == 5 * H and rows["horizon"].min() == 1 and rows["horizon"].max() == H
    assert (rows["target_date"] - pd.Timestamp(D1)).dt.days.equals(rows["horizon"].astype("int64"))
    quantiles = rows[quantile_columns()].to_numpy()
    assert (quantiles >= 0).all() and (np.diff(quantiles, axis=1) >= 0).all()
    assert rows["y_hat_lo_95"].equals(rows["q025"]) and rows["y_hat_hi_95"].equals(rows["q975"])
    assert rows["y_hat_lo_80"].equals(rows["q100"]) and rows["y_hat_hi_80"].equals(rows["q900"])
    assert set(rows["model_version"]) == {"1"} and rows["validation_run_id"].isna().all()


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda f: f.drop(columns=["q500"]), SchemaContractError, "q500"),
        (lambda f: f.assign(y_hat=f["y_hat"].where(f.index != 3)), DataValidationError, "NaN"),
        (
            lambda f: f[~((f["unique_id"] == "20001") & (f["ds"] == f["ds"].max()))],
            DataValidationError,
            "horizons",
        ),
        (lambda f: pd.concat([f, f.head(1)]), DataValidationError, "duplicated"),
        (lambda f: f.assign(ds=f["ds"] - pd.Timedelta(days=1)), DataValidationError, "on or before"),
    ],
)
def test_prepare_rows_rejects_bad_frames(mutate, error, message) -> None:  # noqa: ANN001
    with pytest.raises(error, match=message):
        prepare_forecast_rows(mutate(make_forecast(D1)), forecast_date=D1, model_info=V1, dbt_invocation_id="x")


def test_expected_horizon_is_enforced() -> None:
    with pytest.raises(DataValidationError, match="lack some of horizons 1..28"):
        prepare_forecast_rows(
            make_forecast(D1, h=14), forecast_date=D1, model_info=V1, dbt_invocation_id="x", horizon=H
        )


def test_rerun_is_idempotent_and_dates_coexist(wh_settings: Settings) -> None:
    assert (
        write_forecasts(
            make_forecast(D1),
            forecast_date=D1,
            model_info=V1,
            dbt_invocation_id="inv-1",
            validation_run_id="val-1",
            settings=wh_settings,
        )
        == 5 * H
    )
    first = read_date(wh_settings, D1)
    assert (
        write_forecasts(
            make_forecast(D1),
            forecast_date=D1,
            model_info=V1,
            dbt_invocation_id="inv-1",
            validation_run_id="val-1",
            settings=wh_settings,
        )
        == 5 * H
    )
    again = read_date(wh_settings, D1)
    pd.testing.assert_frame_equal(normalised(first), normalised(again))
    assert set(again["validation_run_id"]) == {"val-1"} and set(again["model_alias"]) == {"champion"}

    write_forecasts(
        make_forecast(D2, n_items=3, seed=1),
        forecast_date=D2,
        model_info=V2,
        dbt_invocation_id="inv-2",
        settings=wh_settings,
    )
    pd.testing.assert_frame_equal(normalised(read_date(wh_settings, D1)), normalised(first))
    second = read_date(wh_settings, D2)
    assert len(second) == 3 * H and set(second["model_version"]) == {"2"} and second["validation_run_id"].isna().all()
    with warehouse.connect(wh_settings) as conn:
        assert warehouse.row_count(conn, "forecasts", "item_daily_forecast") == 8 * H

    # Re-running D1 with another model replaces exactly D1's rows.
    write_forecasts(
        make_forecast(D1, n_items=2, seed=2),
        forecast_date=D1,
        model_info=V2,
        dbt_invocation_id="inv-3",
        settings=wh_settings,
    )
    replaced = read_date(wh_settings, D1)
    assert len(replaced) == 2 * H and set(replaced["model_version"]) == {"2"}
    pd.testing.assert_frame_equal(normalised(read_date(wh_settings, D2)), normalised(second))


def test_failure_after_delete_keeps_previous_rows(wh_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    write_forecasts(make_forecast(D1), forecast_date=D1, model_info=V1, dbt_invocation_id="inv-1", settings=wh_settings)
    before = read_date(wh_settings, D1)
    seen_inside: list[int] = []

    def fail_after_delete(conn, insert_sql, day):  # noqa: ANN001, ANN202
        seen_inside.append(
            int(
                conn.execute(
                    sa.text("select count(*) from forecasts.item_daily_forecast where forecast_date = :d"),
                    {"d": D1},
                ).scalar_one()
            )
        )
        raise RuntimeError("disk full")

    monkeypatch.setattr(publish, "_insert_staged", fail_after_delete)
    with pytest.raises(RuntimeError, match="disk full"):
        write_forecasts(
            make_forecast(D1, seed=9),
            forecast_date=D1,
            model_info=V2,
            dbt_invocation_id="inv-2",
            settings=wh_settings,
        )
    assert seen_inside == [0]  # the delete ran inside the transaction...
    after = read_date(wh_settings, D1)  # ...and was rolled back with it
    pd.testing.assert_frame_equal(after, before)


def test_readers_never_see_half_a_run(wh_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    write_forecasts(make_forecast(D1), forecast_date=D1, model_info=V1, dbt_invocation_id="inv-1", settings=wh_settings)
    before = read_date(wh_settings, D1)
    real_insert = publish._insert_staged
    seen_by_reader: list[pd.DataFrame] = []

    def insert_then_peek(conn, insert_sql, day):  # noqa: ANN001, ANN202
        written = real_insert(conn, insert_sql, day)
        seen_by_reader.append(read_date(wh_settings, D1))  # another connection, while the writer is open
        return written

    monkeypatch.setattr(publish, "_insert_staged", insert_then_peek)
    write_forecasts(
        make_forecast(D1, n_items=4, seed=3),
        forecast_date=D1,
        model_info=V2,
        dbt_invocation_id="inv-2",
        settings=wh_settings,
    )
    pd.testing.assert_frame_equal(seen_by_reader[0], before)
    after = read_date(wh_settings, D1)
    assert len(after) == 4 * H and set(after["model_version"]) == {"2"}


def _plant_recent_sales(settings: Settings, items: list[str], day: dt.date) -> None:
    """The feature mart's recent sales: what the suite's 'every active item present' check reads."""
    with warehouse.connect(settings) as conn:
        conn.execute(sa.text("create schema if not exists marts"))
        conn.execute(
            sa.text(
                "create table marts.ml_item_daily_sales (item_id varchar, sale_date date, units_sold double precision)"
            )
        )
        for item in items:
            conn.execute(sa.text("insert into marts.ml_item_daily_sales values (:i, :d, 3)"), {"i": item, "d": day})


def test_the_forecast_suite_blocks_a_corrupted_forecast_and_keeps_the_published_one(wh_settings: Settings) -> None:
    """A forecast that loses an active item passes the row checks but fails its suite: nothing is published,
    the alert goes out, the run is recorded, the rejected rows stay staged for inspection."""
    from trendcast.alerts import outbox_dir
    from trendcast.forecasting.publish import ForecastRejectedError

    good = make_forecast(D1)
    _plant_recent_sales(wh_settings, sorted(good["unique_id"].unique()), D1)
    write_forecasts(good, forecast_date=D1, model_info=V1, dbt_invocation_id="inv-1", settings=wh_settings)
    published = read_date(wh_settings, D1)
    assert len(published) == 5 * H

    corrupted = make_forecast(D1, seed=4)
    corrupted = corrupted[corrupted["unique_id"] != "20003"]  # an item that sold yesterday gets no forecast
    with pytest.raises(ForecastRejectedError, match="every_active_item_present"):
        write_forecasts(corrupted, forecast_date=D1, model_info=V2, dbt_invocation_id="inv-2", settings=wh_settings)

    pd.testing.assert_frame_equal(read_date(wh_settings, D1), published)
    with warehouse.connect(wh_settings) as conn:
        runs = conn.execute(
            sa.text(
                "select success, table_name from ops.dq_runs where suite = 'item_daily_forecast' order by started_at"
            )
        ).all()
        staged = conn.execute(sa.text("select count(*), max(model_version) from ops.item_daily_forecast_staged")).one()
    assert [tuple(r) for r in runs] == [
        (True, "ops.item_daily_forecast_staged"),
        (False, "ops.item_daily_forecast_staged"),
    ]
    assert tuple(staged) == (4 * H, "2")
    alerts = [p.read_text(errors="replace") for p in outbox_dir(wh_settings).glob("*.eml")]
    assert len(alerts) == 1 and "item_daily_forecast" in alerts[0]
