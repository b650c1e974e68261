#!/usr/bin/env bash
# One-shot setup of the docker-compose stack (service airflow-init), run on every `docker compose up` and safe to
# repeat: Airflow metadata schema, the UI password, the warehouse pool, the dbt manifest Cosmos renders the DAGs
# from, and the warehouse's write-back tables and read-only role. Every value comes from the environment.
set -euo pipefail

: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in .env}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"
: "${TRENDCAST_DBT_MANIFEST:?}"

echo "airflow-init: metadata database"
airflow db migrate

echo "airflow-init: SimpleAuthManager password of user admin"
python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
path.touch(mode=0o600)
path.write_text(json.dumps({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}) + "\n")
PY

echo "airflow-init: pool trendcast_warehouse (${TRENDCAST_WAREHOUSE_POOL_SLOTS:-4} slots)"
airflow pools set trendcast_warehouse "${TRENDCAST_WAREHOUSE_POOL_SLOTS:-4}" "Tasks that write the trendcast warehouse"

echo "airflow-init: dbt manifest at ${TRENDCAST_DBT_MANIFEST} (dbt parse, no warehouse connection)"
python - <<'PY'
import os
from pathlib import Path

from trendcast.dbt import parse

manifest = Path(os.environ["TRENDCAST_DBT_MANIFEST"])
written = parse(target_dir=manifest.parent)
assert written == manifest, f"dbt wrote {written}, TRENDCAST_DBT_MANIFEST says {manifest}"
PY

echo "airflow-init: warehouse write-back tables and the read-only role ${TRENDCAST_PG_READONLY_USER:-trendcast_reader}"
trendcast grant-readonly

echo "airflow-init: done"
