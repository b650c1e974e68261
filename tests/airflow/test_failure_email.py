"""A failing task's on_failure_callback (trendcast's default_args) emails the data owners over SMTP."""

from __future__ import annotations

import socket
import sys
import textwrap
import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from tests.airflow.helpers import last_json, run, subprocess_env
from trendcast.settings import Settings

pytestmark = [pytest.mark.airflow, pytest.mark.smtp]

PROBE_DAG = '''
"""A DAG whose only task fails: exercises trendcast's default_args (failure callback) under dag.test()."""
import pendulum
from airflow.sdk import dag, task
from trendcast.orchestration.dagkit import default_args


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    default_args=default_args(retries=0, pool="default_pool"),
)
def trendcast_failing_probe():
    @task
    def explode():
        raise ValueError("planted failure 4711")

    explode()


trendcast_failing_probe()
'''

RUN_SCRIPT = r"""
import json, sys
from trendcast.orchestration.setup import migrate_metadata
migrate_metadata()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
run = bag.dags["trendcast_failing_probe"].test()
print(json.dumps({"state": str(run.state)}))
"""


class _Collector:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_failed_task_sends_an_email_to_the_data_owners(settings: Settings, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "trendcast_failing_probe.py").write_text(textwrap.dedent(PROBE_DAG))
    collector = _Collector()
    port = _free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = subprocess_env(
            settings,
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            TRENDCAST_SMTP_HOST="127.0.0.1",
            TRENDCAST_SMTP_PORT=str(port),
            TRENDCAST_ALERT_RECIPIENTS="owner@shop.example",
        )
        started = time.perf_counter()
        proc = run([sys.executable, "-c", RUN_SCRIPT, str(dags)], env, timeout=300)
        print(f"failing DAG run via dag.test(): {time.perf_counter() - started:.1f} s")
    finally:
        controller.stop()
    assert last_json(proc.stdout)["state"] == "failed"
    assert len(collector.messages) == 1, [m["Subject"] for _, m in collector.messages]
    recipients, message = collector.messages[0]
    assert recipients == ["owner@shop.example"]
    subject = " ".join(str(message["Subject"]).split())  # long headers are folded
    assert subject.startswith("[trendcast] Task FAILED: trendcast_failing_probe.explode run manual__")
    assert message["X-Trendcast-Kind"] == "task-failure"
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "Task:         explode" in text
    assert "ValueError: planted failure 4711" in text
    assert not list((settings.state_path / "outbox").glob("*.eml")), "SMTP configured: nothing goes to the outbox"
