"""Airflow-facing glue: the environment of the embedded Airflow, DAG defaults, Cosmos configs and task bodies.

Everything here is plain Python that imports Airflow or Cosmos only inside functions, so the package (and its
tests) work without touching Airflow's configuration; the DAG files in ``dags/`` call these functions.
"""
