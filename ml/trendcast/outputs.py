"""The tables trendcast's Python steps write back (forecasts, trends, anomalies, data-quality results).

dbt reads them as sources for the consumer marts, so they are created (empty) before the first ``dbt build``.
"""

from __future__ import annotations

from trendcast.settings import Settings
from trendcast.warehouse import connect

__all__ = ["ensure_output_tables"]


def ensure_output_tables(settings: Settings | None = None) -> None:
    """Create every write-back table that does not exist yet (idempotent, one transaction)."""
    from trendcast.anomalies import SALES_ANOMALIES_DDL
    from trendcast.forecasting.writeback import ensure_forecast_tables
    from trendcast.quality.results import ensure_ops_tables
    from trendcast.trends import ensure_trend_tables

    with connect(settings) as conn:
        ensure_forecast_tables(conn)
        ensure_trend_tables(conn)
        ensure_ops_tables(conn)
        conn.exec_driver_sql(SALES_ANOMALIES_DDL)
        from trendcast.forecasting.evaluation_store import ensure_evaluation_tables

        ensure_evaluation_tables(conn)
        from trendcast.behaviour.scores import ensure_score_tables

        ensure_score_tables(conn)
        from trendcast.behaviour.recommendation_jobs import RECOMMENDATIONS_TABLE
        from trendcast.text_embeddings import ensure_embedding_table

        ensure_score_tables(conn, (RECOMMENDATIONS_TABLE,))
        from trendcast.elasticity import CATEGORY_ELASTICITY_TABLE, ITEM_ELASTICITY_TABLE

        ensure_score_tables(conn, (CATEGORY_ELASTICITY_TABLE, ITEM_ELASTICITY_TABLE))
        ensure_embedding_table(conn)
