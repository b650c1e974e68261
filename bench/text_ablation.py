"""Do product-text embeddings help forecast items with little history? An XGBoost ablation on new items.

At every cutoff (every 28 days) the *new* items - first sale in the 28 days up to the cutoff - are forecast: the
target is their units sold in the next 28 days. Four feature sets, same model and seeds:

* ``base``: days since first sale, units and selling days so far, units per day, last price, category, month;
* ``+knn``: the similarity-weighted mean daily demand (last 28 days) of the 10 established items (first sale
  >= 90 days before the cutoff) whose description embedding is closest to the new item's;
* ``+pca``: 8 PCA components of the item's description embedding;
* ``+knn+pca``: both.

Cutoffs up to 2011-05-04 train, later cutoffs (targets never overlap) test. Reads a built warehouse whose text
embeddings are cached (``trendcast ingest …online_retail_ii && trendcast build && trendcast embed``).

    TRENDCAST_STATE_DIR=/tmp/orii/state python bench/text_ablation.py  # -> bench/results/text_ablation.json
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from trendcast.settings import get_settings
from trendcast.text_embeddings import embedding_components, load_item_embeddings
from trendcast.warehouse import connect

HORIZON = 28
NEW_DAYS = 28
ESTABLISHED_DAYS = 90
K = 10
TRAIN_END = pd.Timestamp("2011-05-04")
OUT = Path(__file__).resolve().parent / "results" / "text_ablation.json"


def _sales() -> pd.DataFrame:
    with connect(get_settings()) as conn:
        rows = conn.execute(
            sa.text(
                "select item_id, sale_date, units_sold, price, category from marts.ml_item_daily_sales "
                "order by item_id, sale_date"
            )
        ).all()
    frame = pd.DataFrame(rows, columns=["item_id", "sale_date", "units_sold", "price", "category"])
    frame["sale_date"] = pd.to_datetime(frame["sale_date"])
    frame["units_sold"] = frame["units_sold"].astype(float).clip(lower=0)
    return frame


def _examples(sales: pd.DataFrame, emb_items: pd.DataFrame, emb: np.ndarray, pca: np.ndarray) -> pd.DataFrame:
    first = sales.groupby("item_id")["sale_date"].min()
    last_day = sales["sale_date"].max()
    wide = sales.pivot_table(index="sale_date", columns="item_id", values="units_sold", fill_value=0.0)
    price = sales.pivot_table(index="sale_date", columns="item_id", values="price").ffill()
    category = sales.groupby("item_id")["category"].last().astype("category").cat.codes
    row_of = {item: i for i, item in enumerate(emb_items["item_id"])}
    cutoffs = pd.date_range("2010-03-01", last_day - pd.Timedelta(days=HORIZON), freq=f"{HORIZON}D")
    records = []
    for cutoff in cutoffs:
        past = wide.loc[cutoff - pd.Timedelta(days=NEW_DAYS - 1) : cutoff]
        future = wide.loc[cutoff + pd.Timedelta(days=1) : cutoff + pd.Timedelta(days=HORIZON)]
        new = first[(first > cutoff - pd.Timedelta(days=NEW_DAYS)) & (first <= cutoff)].index
        established = first[first <= cutoff - pd.Timedelta(days=ESTABLISHED_DAYS)].index
        est = [i for i in established if i in row_of]
        if not len(new) or not est:
            continue
        est_rows = np.array([row_of[i] for i in est])
        est_rate = past[est].mean().to_numpy()
        for item in new:
            if item not in row_of:
                continue
            history = past[item][past.index >= first[item]]
            sims = emb[est_rows] @ emb[row_of[item]]
            top = np.argsort(-sims)[:K]
            weights = np.clip(sims[top], 1e-6, None)
            record = {
                "cutoff": cutoff,
                "item_id": item,
                "y": float(future[item].sum()),
                "age_days": int((cutoff - first[item]).days) + 1,
                "units_so_far": float(history.sum()),
                "selling_days": int((history > 0).sum()),
                "units_per_day": float(history.mean()),
                "last_price": float(price[item].loc[:cutoff].iloc[-1]) if item in price else np.nan,
                "category": int(category[item]),
                "month": cutoff.month,
                "knn_rate": float((est_rate[top] * weights).sum() / weights.sum()),
                "knn_sim": float(sims[top].mean()),
            }
            record.update({f"pca_{j}": float(v) for j, v in enumerate(pca[row_of[item]])})
            records.append(record)
    return pd.DataFrame(records)


def _fit_predict(train: pd.DataFrame, test: pd.DataFrame, columns: list[str], seed: int) -> np.ndarray:
    import xgboost as xgb

    model = xgb.XGBRegressor(
        n_estimators=300,
        max_depth=4,
        learning_rate=0.05,
        subsample=0.8,
        colsample_bytree=0.8,
        objective="reg:tweedie",
        tweedie_variance_power=1.3,
        random_state=seed,
        n_jobs=2,
    )
    model.fit(train[columns], train["y"])
    return model.predict(test[columns])


def _metrics(y: np.ndarray, y_hat: np.ndarray) -> dict[str, float]:
    err = y_hat - y
    return {
        "wape": float(np.abs(err).sum() / max(y.sum(), 1e-9)),
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "rmsle": float(np.sqrt(((np.log1p(np.clip(y_hat, 0, None)) - np.log1p(y)) ** 2).mean())),
        "bias": float(y_hat.sum() / max(y.sum(), 1e-9)),
    }


def main() -> dict:
    started = time.perf_counter()
    sales = _sales()
    emb_items, emb = load_item_embeddings()
    pca = embedding_components(emb, 8)
    examples = _examples(sales, emb_items, emb, pca)
    train = examples[examples["cutoff"] <= TRAIN_END]
    test = examples[examples["cutoff"] > TRAIN_END + pd.Timedelta(days=HORIZON)]
    base = ["age_days", "units_so_far", "selling_days", "units_per_day", "last_price", "category", "month"]
    pca_cols = [f"pca_{j}" for j in range(pca.shape[1])]
    variants = {
        "base": base,
        "base+knn": [*base, "knn_rate", "knn_sim"],
        "base+pca": [*base, *pca_cols],
        "base+knn+pca": [*base, "knn_rate", "knn_sim", *pca_cols],
    }
    young = (test["age_days"] <= 7).to_numpy()  # a week of history or less
    results, results_young = {}, {}
    for name, columns in variants.items():
        predictions = [_fit_predict(train, test, columns, seed) for seed in range(3)]
        for store, mask in ((results, slice(None)), (results_young, young)):
            runs = [_metrics(test["y"].to_numpy()[mask], p[mask]) for p in predictions]
            store[name] = {k: round(float(np.mean([r[k] for r in runs])), 4) for k in runs[0]}
    report = {
        "dataset": "online_retail_ii",
        "question": "do description embeddings improve 28-day forecasts of items with <= 28 days of history?",
        "protocol": (
            f"cutoffs every {HORIZON} days; new items = first sale in the {NEW_DAYS} days up to the cutoff; target = "
            f"units sold in the next {HORIZON} days; train cutoffs <= {TRAIN_END.date()}, test cutoffs after "
            f"{(TRAIN_END + pd.Timedelta(days=HORIZON)).date()}; XGBoost tweedie, mean of 3 seeds; knn = "
            f"similarity-weighted mean daily demand of the {K} most similar established items (first sale >= "
            f"{ESTABLISHED_DAYS} days before the cutoff)"
        ),
        "n_train": len(train),
        "n_test": len(test),
        "n_test_cutoffs": int(test["cutoff"].nunique()),
        "test_units": float(test["y"].sum()),
        "results": results,
        "n_test_age_le_7_days": int(young.sum()),
        "results_age_le_7_days": results_young,
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": {"cpus": 2, "python": platform.python_version()},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
