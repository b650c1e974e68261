"""Product text embeddings: offline model, cache by text hash (DuckDB and PostgreSQL), determinism, and similar-item
lookups that find the generated categories."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from trendcast import text_embeddings as te
from trendcast import warehouse
from trendcast.settings import Settings, get_settings

try:
    from tests.conftest import postgres_settings
except ImportError:  # pragma: no cover - depends on how pytest put the repository on sys.path
    from conftest import postgres_settings

pytestmark = pytest.mark.slow  # loads the MiniLM model (~5-20 s on a busy 2-core machine)

PG_DATABASE = "trendcast_text_embeddings_test_" + os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="module")
def model() -> Any:
    return te.load_text_model()


@pytest.fixture(scope="module")
def item_text(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """marts.ml_item_text rows of a generated shop (dbt builds the real mart; tests/dbt checks it)."""
    from trendcast.generate import generate

    out = tmp_path_factory.mktemp("shop")
    generate(out, seed=5, n_items=120, n_customers=50, days=30, lines_per_day=20, events=False)
    text = pd.read_parquet(Path(out) / "product_text.parquet")
    text = text[text["kind"] == "description"]
    return pd.DataFrame(
        {
            "item_id": text["stock_code"].str.strip().str.upper(),
            "description": text["text"],
            "category": text["category"],
            "text_hash": [hashlib.sha256(t.encode()).hexdigest() for t in text["text"]],
        }
    ).reset_index(drop=True)


def _write_item_text(settings: Settings, frame: pd.DataFrame) -> None:
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("create schema if not exists marts")
        conn.exec_driver_sql("drop table if exists marts.ml_item_text")
        conn.exec_driver_sql(
            "create table marts.ml_item_text "
            "(item_id varchar, description varchar, category varchar, text_hash varchar)"
        )
        warehouse.append_frame(conn, "marts", "ml_item_text", frame)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def wh_settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    settings = get_settings() if request.param == "duckdb" else postgres_settings(PG_DATABASE, create=True)
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("drop schema if exists scores cascade")
    yield settings
    if request.param == "postgres":
        with warehouse.connect(settings) as conn:
            conn.exec_driver_sql("drop schema if exists scores cascade")
            conn.exec_driver_sql("drop schema if exists marts cascade")


def test_embeddings_are_cached_by_text_hash(wh_settings: Settings, item_text: pd.DataFrame, model: Any) -> None:
    _write_item_text(wh_settings, item_text)
    first = te.embed_item_texts(wh_settings, model=model)
    assert (first.n_items, first.n_embedded, first.n_cached) == (len(item_text), len(item_text), 0)
    second = te.embed_item_texts(wh_settings, model=model)
    assert (second.n_embedded, second.n_cached) == (0, len(item_text))

    changed = item_text.copy()
    changed.loc[0, "description"] = "A brand new enamel watering can for the garden."
    changed.loc[0, "text_hash"] = hashlib.sha256(changed.loc[0, "description"].encode()).hexdigest()
    _write_item_text(wh_settings, changed)
    third = te.embed_item_texts(wh_settings, model=model)
    assert (third.n_embedded, third.n_cached) == (1, len(item_text) - 1)

    items, matrix = te.load_item_embeddings(wh_settings)
    assert len(items) == len(item_text) and matrix.shape == (len(item_text), te.EMBEDDING_DIM)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)
    # What the warehouse returns is what the model computes (float32 stored as double precision[]).
    row = int(np.flatnonzero(items["item_id"] == changed.loc[5, "item_id"])[0])
    assert np.allclose(matrix[row], te.embed_texts([changed.loc[5, "description"]], model)[0], atol=1e-6)
    with warehouse.connect(wh_settings) as conn:
        n_rows = conn.execute(sa.text("select count(*) from scores.item_text_embeddings")).scalar_one()
    assert n_rows == len(item_text) + 1  # the old text's embedding stays cached for when it comes back


def test_embeddings_are_deterministic(model: Any) -> None:
    texts = ["Set of 6 retrospot glass t-light holder.", "Pink polkadot lunch bag."]
    a, b = te.embed_texts(texts, model), te.embed_texts(list(reversed(texts)), model)
    assert a.shape == (2, te.EMBEDDING_DIM) and a.dtype == np.float32
    assert np.allclose(a, b[::-1], atol=1e-6)


def test_similar_items_share_the_category_far_more_often_than_chance(
    settings: Settings, item_text: pd.DataFrame, model: Any
) -> None:
    _write_item_text(settings, item_text)
    te.embed_item_texts(settings, model=model)
    embeddings = te.load_item_embeddings(settings)
    category = item_text.set_index("item_id")["category"]
    same = []
    for item_id in item_text["item_id"]:
        similar = te.similar_items(item_id, k=5, embeddings=embeddings)
        assert len(similar) == 5 and item_id not in set(similar["similar_item_id"])
        assert similar["similarity"].is_monotonic_decreasing
        same.extend(similar["category"] == category[item_id])
    shares = category.value_counts(normalize=True)
    chance = float((shares**2).sum())
    assert np.mean(same) > max(0.6, 3 * chance), (np.mean(same), chance)
    with pytest.raises(Exception, match="no cached text embedding"):
        te.similar_items("NOPE", embeddings=embeddings)


def _write_reviews(settings: Settings, frame: pd.DataFrame) -> None:
    """marts.ml_item_review_text as dbt builds it (item, distinct text, times received, hash)."""
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("drop table if exists marts.ml_item_review_text")
        conn.exec_driver_sql(
            "create table marts.ml_item_review_text (item_id varchar, review_text varchar, n_reviews bigint, "
            "avg_rating double precision, last_written_at timestamp, text_hash varchar)"
        )
        rows = frame.assign(
            avg_rating=4.0,
            last_written_at=pd.Timestamp("2024-01-01"),
            text_hash=[hashlib.sha256(t.encode()).hexdigest() for t in frame["review_text"]],
        )
        warehouse.append_frame(conn, "marts", "ml_item_review_text", rows)


def test_near_identical_reviews_make_items_with_unrelated_descriptions_similar(
    settings: Settings, item_text: pd.DataFrame, model: Any
) -> None:
    _write_item_text(settings, item_text)
    te.embed_item_texts(settings, model=model)
    base_items, base = te.load_item_embeddings(settings)  # no review mart: descriptions only
    assert (base_items["n_reviews"] == 0).all()
    assert np.allclose(
        base,
        te.embed_texts(base_items["item_id"].map(item_text.set_index("item_id")["description"]).tolist(), model),
        atol=1e-6,
    )

    # the two items of different categories whose descriptions are least alike
    sims = base @ base.T
    cats = base_items["category"].to_numpy()
    sims[cats[:, None] == cats[None, :]] = np.inf
    i, j = np.unravel_index(np.argmin(sims), sims.shape)
    a, b = base_items["item_id"].iat[i], base_items["item_id"].iat[j]
    before = te.similar_items(a, k=len(base_items) - 1, embeddings=(base_items, base)).set_index("similar_item_id")
    assert before.loc[b, "similarity"] < 0.3 and before.loc[b, "rank"] > 20

    others = [x for x in base_items["item_id"] if x not in (a, b)][:30]
    reviews = pd.DataFrame(
        {
            "item_id": [a, a, b, *others],
            "review_text": [
                "The enamel teapot whistles loudly and keeps my tea hot for hours.",
                "Lovely teapot, the whistle is loud.",
                "The enamel teapot whistles loudly and keeps my tea hot for hours!",
                *[f"Good value, order number {k} arrived on a {['Monday', 'Friday'][k % 2]}." for k in range(30)],
            ],
            "n_reviews": [3, 1, 2, *[1] * 30],
        }
    )
    _write_reviews(settings, reviews)
    first = te.embed_item_texts(settings, model=model)
    assert (first.n_review_texts, first.n_embedded, first.n_cached) == (33, 33, len(item_text))
    again = te.embed_item_texts(settings, model=model)  # review texts are cached by hash like descriptions
    assert (again.n_embedded, again.n_cached) == (0, len(item_text) + 33)

    items, matrix = te.load_item_embeddings(settings)
    assert items["item_id"].tolist() == base_items["item_id"].tolist()
    assert dict(zip(items["item_id"], items["n_reviews"], strict=True))[a] == 4
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    unreviewed = ~items["item_id"].isin(reviews["item_id"]).to_numpy()
    assert unreviewed.sum() > 50 and np.array_equal(matrix[unreviewed], base[unreviewed])
    after = te.similar_items(a, k=5, embeddings=(items, matrix))
    assert after["similar_item_id"].iat[0] == b and after["similarity"].iat[0] > 0.6, after
    assert te.similar_items(b, k=1, embeddings=(items, matrix))["similar_item_id"].iat[0] == a
    # review_weight=0 (or dropping the mart) gives the description embeddings back exactly
    assert np.array_equal(te.load_item_embeddings(settings, review_weight=0)[1], base)
    with warehouse.connect(settings) as conn:
        conn.exec_driver_sql("drop table marts.ml_item_review_text")
    assert np.array_equal(te.load_item_embeddings(settings)[1], base)
