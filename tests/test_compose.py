"""The docker-compose stack's structure: services, pinned images, healthchecks, start order, no inline secrets.

Parsed with PyYAML, so it runs where Docker is absent (CI); ``docker compose config`` (client-side, no engine
needed) runs where the compose CLI plugin is installed.
"""

from __future__ import annotations

import graphlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from trendcast.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
INIT_SCRIPT = REPO_ROOT / "docker" / "airflow-init.sh"
PG_INIT_SCRIPT = REPO_ROOT / "docker" / "postgres" / "init-databases.sh"

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
ONE_SHOT = {"airflow-init"}
SERVICES = {"postgres", "redis", "mailpit", "mlflow", *ONE_SHOT, *AIRFLOW_SERVICES}
#: TRENDCAST_* variables that are not Settings fields: read by the DAG files at parse time, before any Settings.
NON_SETTINGS = {"TRENDCAST_DBT_MANIFEST"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|SALT|TOKEN|_KEY$|AUTH$")
REFERENCE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}")
REQUIRED = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]*\}")
URL_PASSWORD = re.compile(r"://[^:/@\s]*:(?P<password>\$\{[^}]*\}|[^@\s]+)@")


def _constraint(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (REPO_ROOT / "constraints.txt").read_text(), re.MULTILINE)
    assert match, f"{package} is not pinned in constraints.txt"
    return match.group(1)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in the parsed file with its key path (``services.redis.environment.REDIS_PASSWORD``)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping (merged from x-airflow-common)"
    return {k: str(v) for k, v in env.items()}


def _from_lines(dockerfile: Path) -> list[str]:
    return re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), re.MULTILINE)


def _pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest") and "@" not in name


def test_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
        "airflow-worker": "celery worker",
    }


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert _pinned(service["image"]), f"{name}: image {service['image']!r} has no fixed tag"
        if "build" in service:
            dockerfile = REPO_ROOT / service["build"]["context"] / service["build"]["dockerfile"]
            bases = _from_lines(dockerfile)
            assert bases and all(_pinned(b) for b in bases), f"{dockerfile}: unpinned base image in {bases}"


def test_built_images_match_constraints(services: dict[str, dict[str, Any]]) -> None:
    """The images run the versions the tests ran: Airflow, MLflow, torch and psycopg2 from constraints.txt."""
    airflow = (REPO_ROOT / "docker" / "airflow.Dockerfile").read_text()
    version = _constraint("apache-airflow")
    assert _from_lines(REPO_ROOT / "docker" / "airflow.Dockerfile") == [f"apache/airflow:{version}-python3.11"]
    assert f'"apache-airflow=={version}"' in airflow and "-c constraints.txt" in airflow
    assert f'"torch=={_constraint("torch")}"' in airflow and "download.pytorch.org/whl/cpu" in airflow
    mlflow = REPO_ROOT / "docker" / "mlflow.Dockerfile"
    assert _from_lines(mlflow) == [f"ghcr.io/mlflow/mlflow:v{_constraint('mlflow')}"]
    assert f'"psycopg2-binary=={_constraint("psycopg2-binary")}"' in mlflow.read_text()
    assert services["airflow-worker"]["build"]["dockerfile"] == "docker/airflow.Dockerfile"
    assert services["airflow-worker"]["image"].endswith(f"airflow{version}")
    assert services["mlflow"]["image"] == f"trendcast-mlflow:{_constraint('mlflow')}"


def test_every_long_running_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no" and "healthcheck" not in service, name
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) >= 2, name
        assert {"interval", "timeout", "retries", "start_period"} <= set(check), name
    assert services["airflow-apiserver"]["healthcheck"]["test"][-1] == "http://localhost:8080/api/v2/monitor/health"
    assert "-h 127.0.0.1" in services["postgres"]["healthcheck"]["test"][1]  # not ready while init scripts run


def test_start_order_waits_for_health_and_init(services: dict[str, dict[str, Any]]) -> None:
    graph: dict[str, set[str]] = {}
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions, not a list"
        for target, spec in depends.items():
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}, which has no healthcheck"
            else:
                assert condition == "service_completed_successfully" and target in ONE_SHOT, (name, target, condition)
        graph[name] = set(depends)
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert order.index("airflow-init") < min(order.index(s) for s in AIRFLOW_SERVICES)

    def conditions(name: str) -> dict[str, str]:
        return {t: s["condition"] for t, s in services[name].get("depends_on", {}).items()}

    base = {"postgres": "service_healthy", "redis": "service_healthy"}
    assert conditions("airflow-init") == base
    for name in AIRFLOW_SERVICES:
        assert conditions(name).items() >= {**base, "airflow-init": "service_completed_successfully"}.items(), name
    assert (
        conditions("airflow-worker").items()
        >= {
            "airflow-apiserver": "service_healthy",
            "mlflow": "service_healthy",
            "mailpit": "service_healthy",
        }.items()
    )
    assert conditions("mlflow") == {"postgres": "service_healthy"}


def test_no_secret_is_written_inline(compose: dict[str, Any]) -> None:
    """Every password-like value, and every password inside a URL, is a required ``${VAR:?…}`` from .env."""
    checked = 0
    for path, value in _strings(compose):
        key = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(key) and ".environment." in f".{path}":
            if key == "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE":
                assert value.startswith("/opt/trendcast-state/"), "a path on a volume, not a committed file"
                continue
            assert REQUIRED.fullmatch(value), f"{path} = {value!r} is not a required ${{VAR:?}} reference"
            checked += 1
        for match in URL_PASSWORD.finditer(value):
            assert REQUIRED.fullmatch(match.group("password")), f"{path}: inline password in a URL"
            checked += 1
        for ref in REFERENCE.finditer(value):
            if SECRET_NAME.search(ref.group("name")):
                assert ref.group("op") == ":?", f"{path}: secret {ref.group('name')} must be required, no default"
    assert checked >= 15
    for script in (INIT_SCRIPT, PG_INIT_SCRIPT):
        assert not re.search(r"password\s+'", script.read_text(), re.IGNORECASE), f"{script}: literal password"


def _referenced(compose: dict[str, Any]) -> set[str]:
    """Names of the variables compose interpolates (comments and ``$$`` escapes left out)."""
    return {m.group("name") for _, value in _strings(compose) for m in REFERENCE.finditer(value)}


def test_env_example_documents_every_compose_variable(compose: dict[str, Any]) -> None:
    documented = dict(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.MULTILINE))
    referenced = _referenced(compose)
    assert referenced - set(documented) == set()
    for name in referenced:
        if SECRET_NAME.search(name):
            assert documented[name] == "", f".env.example must not carry a value for {name}"
    assert {
        "POSTGRES_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "WAREHOUSE_READONLY_PASSWORD",
    } <= referenced


def test_trendcast_variables_are_settings_fields(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        from trendcast.orchestration.environment import MANIFEST_ENV
    except ImportError:  # pragma: no cover - the orchestration package is optional here
        pass
    else:
        assert NON_SETTINGS == {MANIFEST_ENV}
    for name in ONE_SHOT | AIRFLOW_SERVICES:
        env = _environment(services[name])
        for key in [k for k in env if k.startswith("TRENDCAST_") and k not in NON_SETTINGS]:
            assert key.removeprefix("TRENDCAST_").lower() in Settings.model_fields, f"{name}: {key} is no setting"
    # the values parse into a production Settings object (secrets replaced by placeholders)
    env = _environment(services["airflow-init"])
    for key, value in env.items():
        if key.startswith("TRENDCAST_") and key not in NON_SETTINGS:
            monkeypatch.setenv(key, REFERENCE.sub("placeholder", value))
    settings = Settings()
    assert settings.warehouse == "postgres" and settings.pg_host == "postgres" and settings.pg_port == 5432
    assert settings.smtp_host == "mailpit" and settings.smtp_port == 1025
    assert settings.mlflow_tracking_uri == "http://mlflow:5000"
    assert settings.pg_readonly_password is not None  # only the init container gets it
    assert all("TRENDCAST_PG_READONLY_PASSWORD" not in _environment(services[s]) for s in AIRFLOW_SERVICES)


def test_services_agree_on_names_and_ports(services: dict[str, dict[str, Any]]) -> None:
    airflow, pg = _environment(services["airflow-scheduler"]), _environment(services["postgres"])
    assert airflow["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert airflow["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert (airflow["TRENDCAST_PG_USER"], airflow["TRENDCAST_PG_DATABASE"]) == (
        pg["WAREHOUSE_DB_USER"],
        pg["WAREHOUSE_DB_NAME"],
    )
    assert f"://{pg['AIRFLOW_DB_USER']}:" in airflow["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert airflow["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith(f"@postgres:5432/{pg['AIRFLOW_DB_NAME']}")
    backend = _environment(services["mlflow"])["MLFLOW_BACKEND_STORE_URI"]
    assert backend.startswith(f"postgresql://{pg['MLFLOW_DB_USER']}:")
    assert backend.endswith(f"/{pg['MLFLOW_DB_NAME']}")
    assert "--port=5000" in services["mlflow"]["command"]
    assert any(h.startswith("--allowed-hosts=mlflow:5000") for h in services["mlflow"]["command"])
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("${PUBLISH_ADDRESS:-127.0.0.1}:"), f"{name}: {port} is published on every address"
    for variable in ("AIRFLOW_DB_PASSWORD", "MLFLOW_DB_PASSWORD", "WAREHOUSE_DB_PASSWORD", "POSTGRES_USER"):
        assert f"${{{variable}}}" in PG_INIT_SCRIPT.read_text() or f'"${variable}"' in PG_INIT_SCRIPT.read_text()


def test_airflow_mounts_the_project_folders(services: dict[str, dict[str, Any]]) -> None:
    for name in ONE_SHOT | AIRFLOW_SERVICES:
        volumes = services[name]["volumes"]
        env = _environment(services[name])
        for folder in ("dags", "plugins", "dbt_project", "expectations"):
            assert f"./{folder}:/opt/trendcast/{folder}:ro" in volumes, (name, folder)
            assert (REPO_ROOT / folder).is_dir(), f"{folder}/ is missing: docker would mount an empty folder"
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/trendcast/dags"
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/trendcast/plugins"
        assert "trendcast-state:/opt/trendcast-state" in volumes
        assert env["TRENDCAST_DBT_MANIFEST"].startswith(env["TRENDCAST_STATE_DIR"] + "/")


def test_init_scripts(services: dict[str, dict[str, Any]]) -> None:
    from typer.main import get_command

    from trendcast.cli import app

    for script in (INIT_SCRIPT, PG_INIT_SCRIPT):
        subprocess.run(["bash", "-n", str(script)], check=True)
    text = INIT_SCRIPT.read_text()
    assert "airflow db migrate" in text and "trendcast grant-readonly" in text
    assert "grant-readonly" in get_command(app).commands  # type: ignore[attr-defined]
    try:
        from trendcast.orchestration.environment import WAREHOUSE_POOL
    except ImportError:  # pragma: no cover
        WAREHOUSE_POOL = "trendcast_warehouse"
    assert f"airflow pools set {WAREHOUSE_POOL} " in text
    assert services["airflow-init"]["command"] == ["bash", "/opt/trendcast/docker/airflow-init.sh"]
    assert "docker/airflow-init.sh" in (REPO_ROOT / "docker" / "airflow.Dockerfile").read_text()
    mount = "./docker/postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-init-databases.sh:ro"
    assert mount in services["postgres"]["volumes"]


def _compose_cli_missing() -> str | None:
    """Why ``docker compose config`` cannot run here, or None when it can (it needs the CLI plugin, no engine)."""
    if shutil.which("docker") is None:
        return "docker client not installed"
    if subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60).returncode != 0:
        return "docker compose plugin not installed"
    return None


def test_docker_compose_config(compose: dict[str, Any], tmp_path: Path) -> None:
    reason = _compose_cli_missing()
    if reason:
        pytest.skip(f"{reason}; the YAML checks above still ran")  # not in CI either: skip, never fail
    names = _referenced(compose)
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{name}=placeholder{i}\n" for i, name in enumerate(sorted(names))))
    result = subprocess.run(
        ["docker", "compose", "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    missing = subprocess.run(
        ["docker", "compose", "--env-file", "/dev/null", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode != 0 and "in .env" in missing.stderr  # a missing secret stops compose
