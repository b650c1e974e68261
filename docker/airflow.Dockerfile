# syntax=docker/dockerfile:1
# The Airflow image of the docker-compose stack: the official image with trendcast installed from this repository
# at the exact versions of constraints.txt. Build context: the repository root (docker compose build).
FROM apache/airflow:3.3.2-python3.11

USER root
# /opt/trendcast: the repository (editable install: trendcast finds dbt_project/, dags/, ... beside ml/).
# /opt/trendcast-state: TRENDCAST_STATE_DIR, a named volume shared by every Airflow container (manifest, outbox,
# data docs). Group 0 gets the owner's rights, as everywhere in the Airflow image, so any AIRFLOW_UID works.
RUN mkdir -p /opt/trendcast /opt/trendcast-state/airflow /opt/trendcast-state/landing \
    && chown -R airflow:0 /opt/trendcast /opt/trendcast-state \
    && chmod -R g=u /opt/trendcast /opt/trendcast-state
USER airflow
WORKDIR /opt/trendcast

COPY --chown=airflow:0 pyproject.toml constraints.txt README.md ./
COPY --chown=airflow:0 ml ./ml
# torch first, from PyTorch's CPU index (PyPI's Linux wheel pulls several GB of CUDA libraries); 2.13.0+cpu
# satisfies the torch==2.13.0 pin. Then everything else at the pinned versions, Airflow held at the base image's.
RUN pip install --no-cache-dir --no-deps --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
    && pip install --no-cache-dir -c constraints.txt -e . "apache-airflow==3.3.2"

COPY --chown=airflow:0 dbt_project ./dbt_project
COPY --chown=airflow:0 expectations ./expectations
COPY --chown=airflow:0 dags ./dags
COPY --chown=airflow:0 plugins ./plugins
COPY --chown=airflow:0 docker/airflow-init.sh ./docker/airflow-init.sh

ENV TRENDCAST_STATE_DIR=/opt/trendcast-state \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/trendcast/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/trendcast/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False
