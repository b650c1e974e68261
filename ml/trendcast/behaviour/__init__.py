"""Customer behaviour: point-in-time customer features, purchase propensity, segments and their score tables.

Each step reads the dbt marts (``marts.ml_customer_daily_activity``), tracks its run in MLflow and writes one
``scores.*`` table, replacing one scoring date in one transaction (:mod:`trendcast.behaviour.scores`).
"""

from __future__ import annotations

__all__: list[str] = []
