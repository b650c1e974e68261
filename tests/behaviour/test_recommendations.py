"""Recommendations: metrics, the leave-last-out split, planted affinities recovered, learned models beat popularity
where customers have preferences, and idempotent top-10 write-back on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from trendcast import warehouse
from trendcast.behaviour.baskets import (
    CART_WEIGHT,
    PURCHASES_SQL,
    browsing_from_frame,
    leave_last_out,
    load_browsing,
    purchases_from_frame,
    split_browsing,
)
from trendcast.behaviour.fitted_recommender import FittedRecommender
from trendcast.behaviour.recommendation_bench import benchmark_recommendations
from trendcast.behaviour.recommendation_jobs import RECOMMENDATIONS_TABLE, score_recommendations
from trendcast.behaviour.recommendations import (
    EVENT_WEIGHT,
    CooccurrenceRecommender,
    PopularityRecommender,
    evaluate,
    rank_metrics,
    top_k_items,
    tune_cooccurrence,
)
from trendcast.behaviour.sasrec import SASRecConfig
from trendcast.settings import Settings, get_settings

try:
    from tests.conftest import postgres_settings
except ImportError:  # pragma: no cover - depends on how pytest put the repository on sys.path
    from conftest import postgres_settings

PG_DATABASE = "trendcast_recommendations_test_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
FAST_SASREC = SASRecConfig(max_epochs=4, patience=2, dim=32, blocks=1, max_len=10)


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[str]]]:
    """A small generated shop with its clickstream, and the planted affinity groups."""
    from trendcast.generate import generate

    out = tmp_path_factory.mktemp("shop")
    manifest = generate(out, seed=3, n_items=300, n_customers=800, days=365, lines_per_day=200, product_text=False)
    return out, manifest.planted.affinity_groups


@pytest.fixture(scope="module")
def generated(shop_dir) -> tuple[pd.DataFrame, list[list[str]]]:
    """Known-customer sale lines of the generated shop (customer_key, invoice_id, invoiced_at, item_id)."""
    out, groups = shop_dir
    tx = pd.read_parquet(out / "transactions.parquet")
    sale = (
        (tx["Quantity"] > 0)
        & (tx["Price"] > 0)
        & tx["Customer ID"].notna()
        & ~tx["Invoice"].str.startswith(("C", "A"))
        & tx["StockCode"].str.match(r"^[0-9]{5}[A-Za-z]{0,2}$")
    )
    tx = tx[sale]
    frame = pd.DataFrame(
        {
            "customer_key": tx["Customer ID"].astype(int).astype(str),
            "invoice_id": tx["Invoice"],
            "invoiced_at": tx["InvoiceDate"],
            "item_id": tx["StockCode"].str.strip().str.upper(),
        }
    ).drop_duplicates()
    return frame.reset_index(drop=True), groups


@pytest.fixture(scope="module")
def clickstream(shop_dir) -> pd.DataFrame:
    """Known customers' view / cart events of the generated shop, in the columns of EVENTS_SQL."""
    ev = pd.read_parquet(shop_dir[0] / "events.parquet")
    ev = ev[ev["customer_id"].notna() & ev["event_type"].isin(["view", "cart"])]
    return pd.DataFrame(
        {
            "customer_key": ev["customer_id"].astype(int).astype(str),
            "session_id": ev["session_id"],
            "event_at": ev["event_time"],
            "item_id": ev["stock_code"].str.strip().str.upper(),
            "event_type": ev["event_type"],
        }
    ).reset_index(drop=True)


def preference_frame(n_customers: int = 400, n_items: int = 120, seed: int = 0) -> pd.DataFrame:
    """Customers who re-buy from a personal set of favourites (80 %) and otherwise buy popular items."""
    rng = np.random.default_rng(seed)
    popularity = rng.pareto(1.5, n_items) + 0.1
    popularity /= popularity.sum()
    rows = []
    for c in range(n_customers):
        favourites = rng.choice(n_items, 6, replace=False)
        start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 30)))
        for b in range(int(rng.integers(2, 9))):
            size = int(rng.integers(2, 7))
            own = rng.random(size) < 0.8
            items = np.where(own, rng.choice(favourites, size), rng.choice(n_items, size, p=popularity))
            for item in np.unique(items):
                rows.append((f"{c:064x}", f"{c:04d}-{b:02d}", start + pd.Timedelta(days=7 * b), f"I{item:03d}"))
    return pd.DataFrame(rows, columns=["customer_key", "invoice_id", "invoiced_at", "item_id"])


def test_rank_metrics_by_hand() -> None:
    top = np.array([[5, 1, 2], [7, 8, 9], [3, 4, 0]])
    targets = [np.array([1]), np.array([0]), np.array([3, 0])]
    metrics = rank_metrics(top, targets, k=3)
    assert metrics["hr@3"] == pytest.approx(2 / 3)
    # user 1: hit at rank 2 -> 1/log2(3); user 2: none;
    # user 3: ranks 1 and 3 of 2 relevant -> (1 + 0.5) / (1 + 1/log2(3))
    expected = (1 / np.log2(3) + 0 + (1 + 0.5) / (1 + 1 / np.log2(3))) / 3
    assert metrics["ndcg@3"] == pytest.approx(expected)


def test_top_k_is_sorted_and_breaks_ties_by_index() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.0]])
    assert top_k_items(scores, 3).tolist() == [[1, 3, 2]]


def test_leave_last_out_holds_out_each_customers_last_basket() -> None:
    frame = pd.DataFrame(
        {
            "customer_key": ["a", "a", "a", "b", "b", "c"],
            "invoice_id": ["1", "1", "2", "3", "4", "5"],
            "invoiced_at": pd.to_datetime(
                ["2024-01-01"] * 2 + ["2024-02-01", "2024-01-05", "2024-01-03", "2024-01-01"]
            ),
            "item_id": ["x", "y", "z", "x", "y", "z"],
        }
    )
    data = purchases_from_frame(frame)
    assert data.items.tolist() == ["x", "y", "z"]
    split = leave_last_out(data.histories, data.customers)
    assert split.customers.tolist() == ["a", "b"]  # c has one basket: training only
    index = {item: i for i, item in enumerate(data.items)}
    assert split.targets[0].tolist() == [index["z"]]
    assert split.targets[1].tolist() == [index["x"]]  # b's baskets ordered by time, not invoice id
    assert [b.tolist() for b in split.inputs[1]] == [[index["y"]]]
    assert len(split.train_histories) == 3 and len(split.train_histories[2]) == 1


def test_cooccurrence_recovers_planted_affinity_partners(generated) -> None:
    frame, groups = generated
    data = purchases_from_frame(frame)
    index = {item: i for i, item in enumerate(data.items)}
    # alpha 0.75 damps popular candidates: big baskets of a small catalogue put best sellers beside everything.
    model = CooccurrenceRecommender(repeat=0.0, alpha=0.75).fit(data.histories, data.n_items)
    pairs = [(a, b) for group in groups for a in group for b in group if a != b and a in index and b in index]
    assert len(pairs) >= 8
    top = top_k_items(model.score([[np.array([index[a]])] for a, _ in pairs]), 10)
    recall = np.mean([index[b] in row for (_, b), row in zip(pairs, top, strict=True)])
    assert recall >= 0.85, f"partner in the top 10 for only {recall:.0%} of planted affinity pairs"
    # ... and far above what popularity gives the same pairs
    popular = set(top_k_items(PopularityRecommender().fit(data.histories, data.n_items).score([[]]), 10)[0])
    assert np.mean([index[b] in popular for _, b in pairs]) < 0.5


def test_rank_metrics_top1_share_counts_the_most_frequent_first_item() -> None:
    top = np.array([[5, 1], [5, 2], [3, 5], [5, 0]])
    assert rank_metrics(top, [np.array([1])] * 4, k=2)["top1_share"] == 0.75


def test_diverse_tuning_stops_the_best_seller_topping_every_list(generated) -> None:
    """Chosen on the validation split: held-out lists diverse, HR@10 within 2 % of the old NDCG-only choice
    (measured here: top item in 89 % of validation lists before)."""
    frame, _ = generated
    data = purchases_from_frame(frame)
    split = leave_last_out(data.histories, data.customers)
    params, trials = tune_cooccurrence(split.train_histories, data.n_items)
    assert len(trials) == 24 and {t["debias"] for t in trials} == {0.0, 0.1, 0.2, 0.3}
    old = max((t for t in trials if t["debias"] == 0.0), key=lambda t: t["ndcg@10"])
    assert old["top1_share"] > 0.8
    chosen = next(t for t in trials if all(t[key] == value for key, value in params.items()))
    assert chosen["top1_share"] <= 0.3
    before, after = (
        evaluate(CooccurrenceRecommender(**p).fit(split.train_histories, data.n_items), split.inputs, split.targets)
        for p in ({key: old[key] for key in ("decay", "repeat", "shrink")}, params)
    )
    assert before["top1_share"] > 0.3 >= after["top1_share"]
    assert after["hr@10"] >= 0.98 * before["hr@10"]


def test_generated_leave_last_out_learned_models_match_popularity(generated) -> None:
    """The generator plants no customer-level preferences, so across baskets popularity is near-optimal there:
    the learned models must not be worse than it (measured: popularity HR@10 0.836, co-occurrence 0.823)."""
    frame, _ = generated
    result = benchmark_recommendations(data=purchases_from_frame(frame), sasrec=False)
    assert result["n_users"] > 300
    assert result["cooccurrence"]["hr@10"] >= result["popularity"]["hr@10"] - 0.03
    assert 0.5 < result["popularity"]["hr@10"] < 1.0


def test_clickstream_lifts_cooccurrence_on_the_generated_shop(generated, clickstream) -> None:
    """The generator plants research views (a share of each known customer's order lines viewed 1-14 days
    before the order): the recent browsing of the days before the held-out basket points at it. Measured:
    HR@10 0.791 purchases only -> 0.859 with events, NDCG@10 0.311 -> 0.357."""
    frame, _ = generated
    data = purchases_from_frame(frame)
    browsing = browsing_from_frame(clickstream, data.customers, data.items)
    assert len(browsing) > 10_000
    result = benchmark_recommendations(data=data, sasrec=False, browsing=browsing)
    plain, events = result["cooccurrence"], result["cooccurrence_events"]
    assert events["params"]["event_weight"] == EVENT_WEIGHT and plain["params"].get("event_weight", 0.0) == 0.0
    assert events["hr@10"] >= plain["hr@10"] + 0.04, result
    assert events["ndcg@10"] >= plain["ndcg@10"] + 0.02, result
    assert events["hr@10"] > result["popularity"]["hr@10"] + 0.03


def test_browsing_is_leak_free_and_joins_the_history_when_scoring() -> None:
    """Split: only events before the held-out basket's day count (that day's views of the basket are out).
    Scoring: a customer's recent views rank first for a model that reads them; later events are ignored."""
    frame = pd.DataFrame(
        {
            "customer_key": ["a", "a", "b", "b"],
            "invoice_id": ["1", "2", "3", "4"],
            "invoiced_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-05 15:00"] * 2),
            "item_id": ["x", "y", "x", "z"],
        }
    )
    events = pd.DataFrame(
        {
            "customer_key": ["a", "a", "a", "b"],
            "session_id": ["s1", "s2", "s3", "s4"],
            "event_at": pd.to_datetime(
                ["2024-01-03 12:00", "2024-01-05 09:00", "2024-01-07 12:00", "2024-01-02 12:00"]
            ),
            "item_id": ["w", "y", "v", "w"],
            "event_type": ["view", "view", "cart", "view"],
        }
    )
    data = purchases_from_frame(pd.concat([frame, frame.assign(customer_key="c", item_id=["v", "w", "v", "w"])]))
    index = {item: i for i, item in enumerate(data.items)}
    browsing = browsing_from_frame(events, data.customers, data.items)
    profiles, sessions = split_browsing(browsing, data)
    a = data.customers.tolist().index("a")
    assert profiles.shape == (3, data.n_items)
    assert profiles[a].nonzero()[1].tolist() == [index["w"]]  # not y (held-out day) nor v (later)
    assert sessions.shape[0] == 2  # a's s1 and b's s4

    model = CooccurrenceRecommender(repeat=1.0, event_weight=EVENT_WEIGHT).fit(data.histories, data.n_items)
    fitted = FittedRecommender("cooccurrence", data.items, model, model.params())
    top = fitted.recommend(frame, k=3, events=events, until=pd.Timestamp("2024-01-06"))
    first = top[top["rank"] == 1].set_index("customer_key")["item_id"]
    assert first["a"] in {"x", "y"} and "v" not in set(top.loc[top["customer_key"] == "a", "item_id"])
    plain = FittedRecommender("cooccurrence", data.items, CooccurrenceRecommender().fit(data.histories, data.n_items))
    assert "w" in set(top.loc[top["customer_key"] == "a", "item_id"])
    assert "w" not in set(plain.recommend(frame, k=2).query("customer_key == 'a'")["item_id"])


@pytest.mark.slow
def test_learned_models_beat_popularity_when_customers_have_preferences() -> None:
    data = purchases_from_frame(preference_frame())
    result = benchmark_recommendations(data=data, sasrec_config=FAST_SASREC)
    pop, co, sas = (result[m]["hr@10"] for m in ("popularity", "cooccurrence", "sasrec"))
    assert co > pop + 0.2, result
    assert sas > pop + 0.1, result
    assert result["sasrec"]["ndcg@10"] > result["popularity"]["ndcg@10"]
    assert result["sasrec"]["device"] in ("cpu", "cuda")


def test_sasrec_is_seeded_and_survives_pickling() -> None:
    import pickle

    from trendcast.behaviour.sasrec import SASRecRecommender

    data = purchases_from_frame(preference_frame(n_customers=120, seed=1))
    split = leave_last_out(data.histories)
    config = FAST_SASREC.model_copy(update={"max_epochs": 2})
    a = SASRecRecommender(config).fit(split.train_histories, data.n_items)
    b = SASRecRecommender(config).fit(split.train_histories, data.n_items)
    assert np.allclose(a.score(split.inputs[:20]), b.score(split.inputs[:20]), atol=1e-5)
    restored = pickle.loads(pickle.dumps(a))
    assert np.allclose(restored.score(split.inputs[:20]), a.score(split.inputs[:20]), atol=1e-5)
    assert evaluate(restored, split.inputs, split.targets)["hr@10"] == evaluate(a, split.inputs, split.targets)["hr@10"]


# ------------------------------------------------------------------------------------------ write-back


def _reset(settings: Settings) -> None:
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("drop schema if exists scores cascade")
        conn.exec_driver_sql("drop schema if exists intermediate cascade")
        conn.exec_driver_sql("drop schema if exists marts cascade")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def wh_settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    settings = get_settings() if request.param == "duckdb" else postgres_settings(PG_DATABASE, create=True)
    _reset(settings)
    yield settings
    if request.param == "postgres":
        _reset(settings)


def _load_sale_lines(settings: Settings, frame: pd.DataFrame) -> None:
    """The columns of intermediate.int_transactions_cleaned the recommender reads (dbt builds it for real)."""
    rows = frame.assign(is_sale=True)
    rows.loc[rows.index % 50 == 0, "is_sale"] = False  # returns and others are ignored
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("create schema if not exists intermediate")
        conn.exec_driver_sql(
            "create table intermediate.int_transactions_cleaned (customer_key varchar, invoice_id varchar, "
            "invoiced_at timestamp, item_id varchar, is_sale boolean)"
        )
        warehouse.append_frame(conn, "intermediate", "int_transactions_cleaned", rows)


def test_load_browsing_reads_the_events_mart(wh_settings: Settings) -> None:
    """None without the mart or with an empty one; otherwise its rows on the purchase vocabularies (an item never
    bought is dropped, a cart weighs CART_WEIGHT views)."""
    data = purchases_from_frame(preference_frame(n_customers=3, n_items=8, seed=1))
    assert load_browsing(wh_settings, data) is None
    with warehouse.connect(wh_settings) as conn:
        conn.exec_driver_sql("create schema if not exists marts")
        conn.exec_driver_sql(
            "create table marts.ml_customer_item_events (customer_key varchar, session_id varchar, "
            "item_id varchar, event_type varchar, event_at timestamp)"
        )
    assert load_browsing(wh_settings, data) is None
    customer, item = data.customers[1], data.items[0]
    events = pd.DataFrame(
        {
            "customer_key": [customer] * 3,
            "session_id": ["s1", "s1", "s2"],
            "item_id": [item, item, "NEVER-BOUGHT"],
            "event_type": ["view", "cart", "view"],
            "event_at": pd.to_datetime(["2024-02-01 10:00", "2024-02-01 10:05", "2024-02-02 09:00"]),
        }
    )
    with warehouse.connect(wh_settings) as conn:
        warehouse.append_frame(conn, "marts", "ml_customer_item_events", events)
    browsing = load_browsing(wh_settings, data)
    assert browsing is not None and len(browsing) == 2
    assert browsing.customer.tolist() == [1, 1] and browsing.item.tolist() == [0, 0]
    assert sorted(browsing.weight.tolist()) == [1.0, CART_WEIGHT]
    assert len(set(browsing.session.tolist())) == 1


def test_top10_write_back_is_idempotent(wh_settings: Settings) -> None:
    frame = preference_frame(n_customers=150, seed=2)
    _load_sale_lines(wh_settings, frame)
    data = purchases_from_frame(frame)
    fitted = FittedRecommender(
        "cooccurrence", data.items, CooccurrenceRecommender().fit(data.histories, data.n_items), {"decay": 0.8}
    )
    info = {"name": "trendcast-recommendations", "version": "3", "alias": "champion", "run_id": "r1"}
    day = dt.date(2024, 6, 1)
    n_customers = frame["customer_key"].nunique()
    for _ in range(2):
        assert score_recommendations(wh_settings, scoring_date=day, fitted=fitted, model_info=info) == 10 * n_customers
    score_recommendations(wh_settings, scoring_date=day + dt.timedelta(days=1), fitted=fitted, model_info=info)
    with warehouse.connect(wh_settings) as conn:
        rows = pd.read_sql(sa.text("select * from scores.customer_recommendations"), conn)
    assert list(rows.columns) == list(RECOMMENDATIONS_TABLE.columns)
    assert len(rows) == 2 * 10 * n_customers
    first = rows[pd.to_datetime(rows["scoring_date"]).dt.date == day]
    assert not first.duplicated(["customer_key", "rank"]).any()
    assert not first.duplicated(["customer_key", "item_id"]).any()
    assert sorted(first["rank"].unique()) == list(range(1, 11))
    assert (first.groupby("customer_key")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()
    assert set(first["model_version"]) == {"3"} and set(first["model_alias"]) == {"champion"}
    # Each customer's most re-bought item is recommended first (the model weights re-orders).
    best = frame.groupby(["customer_key", "item_id"]).size().groupby("customer_key").idxmax().map(lambda t: t[1])
    top1 = first[first["rank"] == 1].set_index("customer_key")["item_id"]
    assert (top1.reindex(best.index) == best).mean() > 0.6
    if wh_settings.warehouse == "duckdb":  # the suite guarding the table passes on a real write
        from trendcast.quality.runner import validate_frame

        result = validate_frame(first, "scores.customer_recommendations", wh_settings)
        assert result.success, [o.check for o in result.failed]


@pytest.mark.slow
def test_weekly_training_registers_promotes_and_daily_scoring_uses_the_champion(settings: Settings) -> None:
    from trendcast.behaviour.recommendation_jobs import load_champion_recommender, train_recommenders

    frame = preference_frame(n_customers=150, seed=4)
    data = purchases_from_frame(frame)
    fast = FAST_SASREC.model_copy(update={"max_epochs": 2})
    first = train_recommenders(settings, families=("cooccurrence", "sasrec"), sasrec_config=fast, data=data)
    assert set(first.metrics) == {"popularity", "cooccurrence", "sasrec"}
    assert first.promoted and first.champion_version in first.versions.values()
    best = max(first.versions, key=lambda f: first.metrics[f]["ndcg@10"])
    assert first.champion_version == first.versions[best]

    fitted, info = load_champion_recommender(settings)
    assert fitted.family == best and info.alias == "champion" and info.version == first.champion_version
    _load_sale_lines(settings, frame)
    assert score_recommendations(settings, scoring_date=dt.date(2024, 6, 1)) == 10 * frame["customer_key"].nunique()
    with warehouse.connect(settings) as conn:
        versions = conn.execute(sa.text("select distinct model_version from scores.customer_recommendations")).all()
    assert versions == [(first.champion_version,)]

    # Same data, same split: an equally good challenger does not displace the champion.
    second = train_recommenders(settings, families=("cooccurrence",), data=data)
    assert not second.promoted and second.champion_version == first.champion_version
    assert "does not beat" in second.reason


@pytest.mark.slow
def test_weekly_training_reads_the_clickstream_and_the_daily_scoring_uses_it(
    settings: Settings, generated, clickstream
) -> None:
    """From the warehouse: co-occurrence is trained and evaluated with the events, logs ``event_weight`` to
    MLflow, and the champion's daily lists differ from purchases-only lists where customers browsed."""
    from trendcast.behaviour.recommendation_jobs import load_champion_recommender, train_recommenders
    from trendcast.forecasting import mlflow_session

    frame, _ = generated
    _load_sale_lines(settings, frame)
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("create schema if not exists marts")
        conn.exec_driver_sql(
            "create table marts.ml_customer_item_events (customer_key varchar, session_id varchar, "
            "item_id varchar, event_type varchar, event_at timestamp)"
        )
        warehouse.append_frame(conn, "marts", "ml_customer_item_events", clickstream)
    result = train_recommenders(settings, families=("cooccurrence",))
    assert result.promoted and result.metrics["cooccurrence"]["hr@10"] > result.metrics["popularity"]["hr@10"] + 0.03
    fitted, info = load_champion_recommender(settings)
    assert fitted.params["event_weight"] == EVENT_WEIGHT and fitted.model.event_weight == EVENT_WEIGHT
    with mlflow_session.tracking_session(settings) as client:
        assert float(client.get_run(info.run_id).data.params["event_weight"]) == EVENT_WEIGHT

    day = pd.Timestamp(frame["invoiced_at"].max()).date()
    score_recommendations(settings, scoring_date=day, fitted=fitted, model_info=info)
    with warehouse.connect(settings) as conn:
        rows = pd.read_sql(sa.text("select customer_key, item_id from scores.customer_recommendations"), conn)
        purchases = pd.read_sql(sa.text(PURCHASES_SQL), conn)
    plain = fitted.recommend(purchases)  # the same histories without the clickstream
    recent = clickstream[pd.to_datetime(clickstream["event_at"]) >= pd.Timestamp(day) - pd.Timedelta(days=29)]
    browsed = set(recent["customer_key"])
    changed = {
        customer
        for customer, items in rows.groupby("customer_key")["item_id"]
        if set(items) != set(plain.loc[plain["customer_key"] == customer, "item_id"])
    }
    assert changed and changed <= browsed  # only customers with recent browsing get different lists
