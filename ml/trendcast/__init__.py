"""trendcast: e-commerce trend prediction pipeline (dbt, Great Expectations, MLflow, Airflow)."""

__version__ = "0.1.0"
