"""Sales-anomaly detection: planted spikes and drops are found with few false alarms; storage and digest."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from trendcast.anomalies import (
    ANOMALY_COLUMNS,
    AnomalyParams,
    build_daily_digest,
    detect_sales_anomalies,
    write_sales_anomalies,
)
from trendcast.exceptions import SchemaContractError
from trendcast.settings import Settings, get_settings

START = dt.date(2024, 1, 8)
N_DAYS = 210
EVAL_FROM = START + dt.timedelta(days=70)  # ten weeks of baseline first


def _planted_frame(seed: int = 3) -> tuple[pd.DataFrame, set[tuple[str, dt.date]], set[dt.date]]:
    """60 items, weekly seasonality, Poisson orders, lumpy units; returns (frame, planted item spikes, shop days).

    Four big items also get a day without any order (``drops`` of the frame's attrs), a shop-wide x3 spike
    falls on two days and a x0.15 drop on one.
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(START, periods=N_DAYS, freq="D")
    weekly = np.array([1.1, 1.2, 1.0, 1.0, 1.3, 0.6, 0.4])[dates.dayofweek]
    levels = rng.lognormal(np.log(4), 0.8, 60)
    orders = rng.poisson(np.outer(levels, weekly))
    eval_days = np.flatnonzero(dates.date >= EVAL_FROM)
    shop_days = rng.choice(eval_days, 3, replace=False)
    orders[:, shop_days[:2]] = rng.poisson(np.outer(levels, weekly[shop_days[:2]]) * 3.0)
    orders[:, shop_days[2]] = rng.binomial(orders[:, shop_days[2]], 0.15)
    planted: set[tuple[int, int]] = set()
    candidates = [d for d in eval_days if d not in shop_days]
    while len(planted) < 30:  # item spikes: x6 the item's usual orders, at least 8
        item, day = int(rng.integers(60)), int(rng.choice(candidates))
        orders[item, day] = max(8, int(levels[item] * weekly[day] * 6))
        planted.add((item, day))
    busy = [d for d in candidates if weekly[d] >= 1.0]  # a day without orders stands out only on a busy day
    drops = {(int(item), int(rng.choice(busy))) for item in np.flatnonzero(levels >= 12)[:4]}
    for item, day in drops:
        orders[item, day] = 0
    # Units: a pack size per item, and now and then a wholesale order of many packs (lumpy, not anomalous).
    pack = rng.integers(1, 13, 60)[:, None]
    units = orders * pack + rng.binomial(orders, 0.1) * pack * rng.integers(5, 20, orders.shape)
    ids = [f"{20000 + i}" for i in range(60)]
    frame = pd.DataFrame(
        {
            "item_id": np.repeat(ids, N_DAYS),
            "sale_date": np.tile(dates.date, 60),
            "units_sold": units.reshape(-1).astype("int64"),
            "n_orders": orders.reshape(-1).astype("int64"),
        }
    )
    frame.attrs["drops"] = {(ids[i], dates[d].date()) for i, d in drops}
    return frame, {(ids[i], dates[d].date()) for i, d in planted}, {dates[d].date() for d in shop_days}


def _item_days(found: pd.DataFrame, direction: str = "spike") -> set[tuple[str, dt.date]]:
    items = found[(found["level"] == "item") & (found["direction"] == direction)]
    return set(zip(items["item_id"], items["sale_date"], strict=True))


def test_planted_item_anomalies_found_with_few_false_alarms() -> None:
    frame, planted, _ = _planted_frame()
    original = frame.copy()
    found = detect_sales_anomalies(frame, since=EVAL_FROM)
    pd.testing.assert_frame_equal(frame, original)  # input not modified
    assert list(found.columns) == ANOMALY_COLUMNS
    assert found["sale_date"].min() >= EVAL_FROM
    flagged = _item_days(found)
    recall = len(flagged & planted) / len(planted)
    precision = len(flagged & planted) / len(flagged)
    # measured: seed 3 recall 30/30, precision 30/31 (seeds 4-7: 27/30 at 27/29, 28/30 at 28/30, 27/30 at 27/27,
    # 28/30 at 28/29)
    assert recall >= 0.85, (recall, precision)
    assert precision >= 0.9, (recall, precision)
    assert (found["score"] >= AnomalyParams().min_score).all()
    items = found[found["level"] == "item"]
    assert (items["orders"] >= AnomalyParams().min_ratio * items["expected_orders"]).all()


def test_item_drops_only_when_asked() -> None:
    frame, _, _ = _planted_frame()
    drops = frame.attrs["drops"]
    assert len(drops) >= 3
    assert not _item_days(detect_sales_anomalies(frame, since=EVAL_FROM), "drop")
    found = _item_days(detect_sales_anomalies(frame, since=EVAL_FROM, params=AnomalyParams(item_drops=True)), "drop")
    assert drops <= found and len(found - drops) <= 2, (drops, found)


def test_planted_shop_days_found() -> None:
    frame, _, shop_days = _planted_frame()
    found = detect_sales_anomalies(frame, since=EVAL_FROM)
    shop = found[found["level"] == "shop"]
    assert set(shop["sale_date"]) == shop_days
    assert shop["item_id"].isna().all()
    assert sorted(shop["direction"]) == ["drop", "spike", "spike"]
    # the shop spike does not make every item an anomaly: expected orders follow the shop's total
    assert not {day for _, day in _item_days(found)} & shop_days


def test_missing_order_counts_are_a_contract_error() -> None:
    frame, _, _ = _planted_frame()
    with pytest.raises(SchemaContractError, match="n_orders"):
        detect_sales_anomalies(frame.drop(columns=["n_orders"]))


def test_write_replaces_by_detection_date_and_digest_escapes() -> None:
    frame, _, _ = _planted_frame()
    found = detect_sales_anomalies(frame, since=EVAL_FROM)
    day = dt.date(2024, 7, 28)
    assert write_sales_anomalies(found, day) == len(found)
    assert write_sales_anomalies(found.head(3), day) == 3  # re-running the day replaces its rows
    with duckdb.connect(str(get_settings().duckdb_file)) as con:
        assert con.execute("select count(*) from ops.sales_anomalies").fetchone()[0] == 3

    hostile = found[found["level"] == "item"].head(2).copy()
    hostile.loc[hostile.index[0], "item_id"] = "<script>alert(1)</script>"
    message = build_daily_digest(hostile, detection_date=day)
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"].startswith("[trendcast] Daily digest 2024-07-28")
    html_part = parsed.get_body(("html",)).get_content()
    assert "<script>" not in html_part and "&lt;script&gt;alert(1)&lt;/script&gt;" in html_part
    assert "<script>alert(1)</script>" in parsed.get_body(("plain",)).get_content()


def test_write_adds_the_order_columns_to_an_older_table() -> None:
    frame, _, _ = _planted_frame()
    found = detect_sales_anomalies(frame, since=EVAL_FROM)
    with duckdb.connect(str(get_settings().duckdb_file)) as con:  # the table as created before orders were scored
        con.execute("create schema ops")
        con.execute(
            "create table ops.sales_anomalies (detection_date date not null, level varchar not null, item_id varchar,"
            " sale_date date not null, units double not null, baseline double not null, robust_z double not null,"
            " ratio double, direction varchar not null, score double not null, detected_at timestamp not null)"
        )
    assert write_sales_anomalies(found, dt.date(2024, 7, 28)) == len(found)
    with duckdb.connect(str(get_settings().duckdb_file)) as con:
        orders = con.execute("select sum(orders), sum(expected_orders) from ops.sales_anomalies").fetchone()
    assert orders == pytest.approx((found["orders"].sum(), found["expected_orders"].sum()))


def test_digest_lists_shop_days_first_with_orders_and_expectation() -> None:
    frame, _, shop_days = _planted_frame()
    found = detect_sales_anomalies(frame, since=EVAL_FROM)
    message = build_daily_digest(found, detection_date=dt.date(2024, 7, 28), top=5)
    text = email.message_from_bytes(message.as_bytes(), policy=email.policy.default).get_body(("plain",)).get_content()
    table = text.splitlines()[text.splitlines().index(next(x for x in text.splitlines() if x.startswith("item  "))) :]
    assert table[0].split() == [
        "item",
        "date",
        "direction",
        "orders",
        "expected",
        "ratio",
        "units",
        "usual",
        "units",
        "score",
    ]
    assert [line.split()[0] for line in table[1:4]] == ["whole", "whole", "whole"]
    assert {line.split()[2] for line in table[1:4]} == {str(d) for d in shop_days}
    strongest = found[found["level"] == "item"].iloc[0]
    assert table[4].split()[:3] == [strongest["item_id"], str(strongest["sale_date"]), "spike"]
    assert f"{strongest['orders']:,.0f}" == table[4].split()[3]
    assert "5 shown" not in text and f"{(found['level'] == 'item').sum()} item-days (showing 5" in text


def test_daily_run_reads_the_mart_stores_and_sends_the_digest() -> None:
    from trendcast.anomalies import run_daily_anomalies

    frame, planted, _ = _planted_frame()
    with duckdb.connect(str(get_settings().duckdb_file)) as con:
        con.execute("create schema marts")
        con.register("f", frame)
        con.execute("create table marts.ml_item_daily_sales as select * from f")
    last = max(frame["sale_date"])
    anomalies, delivery = run_daily_anomalies(days=28)
    assert delivery is not None and delivery.method == "outbox"
    assert set(anomalies["detection_date"]) == {last}
    assert anomalies["sale_date"].min() >= last - dt.timedelta(days=27)
    recent = {p for p in planted if p[1] >= last - dt.timedelta(days=27)}
    found = _item_days(anomalies)
    assert recent and len(found & recent) / len(recent) >= 0.8
    with duckdb.connect(str(get_settings().duckdb_file)) as con:
        stored = con.execute("select count(*) from ops.sales_anomalies where detection_date = ?", [last]).fetchone()
    assert stored[0] == len(anomalies)
    again, repeated = run_daily_anomalies(days=28)  # a rerun of the same date: same digest, not sent again
    assert repeated is None and len(again) == len(anomalies)
    assert len(list(delivery.path.parent.glob("*.eml"))) == 1
    digest = email.message_from_bytes(delivery.path.read_bytes(), policy=email.policy.default)
    assert digest["Subject"] == (
        f"[trendcast] Daily digest {last.isoformat()}: {(anomalies['level'] == 'item').sum()} item and "
        f"{(anomalies['level'] == 'shop').sum()} shop anomalies"
    )


# measured through generate -> ingest -> dbt build -> run_daily_anomalies (80 items, 730 days):
# seed 11: items 8/12 found at 8/8, shop days 5/5 at 5/5; seed 12: items 6/12 at 6/8, shop days 6/6 at 6/6
# (seeds 13-22, from the mart's numbers recomputed in pandas: item recall 0.45-1.0, precision 0.64-1.0).
_GENERATED_SEEDS = (11, 12)


@pytest.mark.slow
def test_generated_shops_planted_anomalies_found_through_the_pipeline(tmp_path: Path) -> None:
    """On trendcast.generate output ingested and built by dbt, the manifest's planted anomalies are found."""
    generate = pytest.importorskip("trendcast.generate")
    from trendcast.anomalies import run_daily_anomalies
    from trendcast.dbt import build
    from trendcast.ingestion.loader import ingest_paths

    item_hits = item_planted = item_flagged = 0
    for seed in _GENERATED_SEEDS:
        settings = Settings(state_dir=tmp_path / f"state{seed}", pseudonymisation_salt="generated")
        manifest = generate.generate(
            tmp_path / f"shop{seed}", seed=seed, n_items=80, days=730, events=False, product_text=False
        )
        ingest_paths([tmp_path / f"shop{seed}"], settings=settings)
        build(settings, quiet=True)
        cutoff = dt.date.fromisoformat(manifest.expected["cutoff_date"])
        since = manifest.params.start + dt.timedelta(weeks=9)
        found, delivery = run_daily_anomalies(settings, days=(cutoff - since).days + 1)
        assert delivery is not None and delivery.method == "outbox"
        assert set(found["detection_date"]) == {cutoff} and found["sale_date"].min() >= since

        shop_planted = {a.date for a in manifest.planted.shop_anomalies if a.date >= since}
        shop_found = set(found.loc[found["level"] == "shop", "sale_date"])
        assert len(shop_planted) >= 4
        assert len(shop_found & shop_planted) / len(shop_planted) >= 0.8, (seed, shop_planted, shop_found)
        assert len(shop_found & shop_planted) / len(shop_found) >= 0.8, (seed, shop_planted, shop_found)

        planted = {(a.stock_code.upper(), a.date) for a in manifest.planted.item_anomalies if a.date >= since}
        flagged = _item_days(found)
        item_hits += len(flagged & planted)
        item_planted += len(planted)
        item_flagged += len(flagged)
        assert len(flagged & planted) / len(planted) >= 0.4, (seed, planted - flagged)

    # the two shops together: 14 of 24 planted spikes found, 14 of 16 flagged item-days planted
    assert item_hits / item_planted >= 0.5, (item_hits, item_planted, item_flagged)
    assert item_hits / item_flagged >= 0.7, (item_hits, item_planted, item_flagged)
