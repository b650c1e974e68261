#!/usr/bin/env bash
# PostgreSQL of the docker-compose stack, first start only (docker-entrypoint-initdb.d runs this on an empty data
# volume): one database and one owner role per component. Passwords come from the environment (.env), never from
# a file; psql quotes them (:'password') and the role and database names (:"name").
set -euo pipefail

create_owned_database() {
    local role="$1" password="$2" database="$3" attributes="$4"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v role="$role" -v password="$password" -v database="$database" -v attributes="$attributes" <<'SQL'
create role :"role" login :attributes password :'password';
create database :"database" owner :"role";
-- only the owner (and roles it grants CONNECT to) may connect
revoke all on database :"database" from public;
SQL
    echo "created database ${database} owned by ${role}"
}

# Airflow metadata and the Celery result backend
create_owned_database "${AIRFLOW_DB_USER}" "${AIRFLOW_DB_PASSWORD}" "${AIRFLOW_DB_NAME}" "nocreaterole"
# MLflow tracking and model registry
create_owned_database "${MLFLOW_DB_USER}" "${MLFLOW_DB_PASSWORD}" "${MLFLOW_DB_NAME}" "nocreaterole"
# The warehouse: dbt and the pipeline write as this owner. CREATEROLE lets `trendcast grant-readonly` create the
# read-only role for SQL consumers (PostgreSQL 16+: it can manage only the roles it created).
create_owned_database "${WAREHOUSE_DB_USER}" "${WAREHOUSE_DB_PASSWORD}" "${WAREHOUSE_DB_NAME}" "createrole"
