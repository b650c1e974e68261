# syntax=docker/dockerfile:1
# MLflow tracking server of the docker-compose stack: the official image plus the PostgreSQL driver its backend
# store needs (the image ships none). Versions match constraints.txt.
FROM ghcr.io/mlflow/mlflow:v3.17.2

RUN pip install --no-cache-dir "psycopg2-binary==2.9.13"
