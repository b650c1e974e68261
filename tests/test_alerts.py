"""Alert emails: a real SMTP server on loopback receives the validation alert; outbox fallback; escaping."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
from pathlib import Path

import pytest

from trendcast.alerts import (
    alert_recipients,
    deliver,
    send_task_failure_alert,
    smtp_config,
)
from trendcast.quality.alert import build_validation_alert
from trendcast.quality.outcomes import ExpectationOutcome, GateResult, SuiteResult
from trendcast.settings import Settings

RECIPIENTS = ["data-owner@example.com", "oncall@example.com"]


def _outcome(check: str, type_: str, column: str | None, **kw) -> ExpectationOutcome:
    return ExpectationOutcome(
        suite="ml_item_daily_sales",
        table="marts.ml_item_daily_sales",
        check=check,
        expectation_type=type_,
        column=column,
        frame="rows",
        severity=kw.pop("severity", "blocking"),
        success=False,
        expected=kw.pop("expected"),
        **kw,
    )


def _failed_gate() -> GateResult:
    now = dt.datetime(2024, 4, 30, 6, 0, tzinfo=dt.UTC)
    outcomes = [
        _outcome(
            "units_sold_range",
            "expect_column_values_to_be_between",
            "units_sold",
            expected="column_values_to_be_between (between 0 and 1000000)",
            unexpected_count=2,
            unexpected_percent=0.1,
            element_count=2305,
            unexpected_sample=[-7, -3],
        ),
        _outcome(
            "key_unique",
            "expect_compound_columns_to_be_unique",
            "item_id, sale_date",
            expected="compound_columns_to_be_unique",
            unexpected_count=4,
            element_count=2309,
            unexpected_percent=0.17,
            unexpected_sample=["<b>10002</b>", "10002"],
        ),
        _outcome(
            "fresh_to_cutoff",
            "expect_column_max_to_be_between",
            "sale_date",
            expected="column_max_to_be_between (between 2024-04-29 and 2024-04-29)",
            observed_value="2024-04-26",
        ),
        _outcome(
            "price_mostly_known",
            "expect_column_values_to_not_be_null",
            "price",
            severity="warning",
            expected="column_values_to_not_be_null (mostly=0.95)",
            unexpected_count=240,
            element_count=2305,
            unexpected_percent=10.4,
            unexpected_sample=[None],
        ),
    ]
    suite = SuiteResult(
        run_id="dq-20240430T060000Z-abcdef12",
        suite="ml_item_daily_sales",
        table="marts.ml_item_daily_sales",
        started_at=now,
        finished_at=now,
        outcomes=outcomes,
        n_rows=2305,
        data_docs_path="/state/data_docs/validations/x.html",
    )
    return GateResult(run_id=suite.run_id, started_at=now, suites=[suite], expected_cutoff=dt.date(2024, 4, 29))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Collector:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    controller_mod = pytest.importorskip("aiosmtpd.controller")
    handler = _Collector()
    port = _free_port()
    controller = controller_mod.Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.mark.smtp
def test_validation_alert_reaches_a_real_smtp_server(smtp_server, tmp_path: Path) -> None:
    handler, port = smtp_server
    settings = Settings(
        state_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="trendcast@shop.example",
        alert_recipients=",".join(RECIPIENTS),
    )
    gate = _failed_gate()
    delivery = deliver(build_validation_alert(gate, settings), settings)

    assert delivery.method == "smtp" and delivery.recipients == RECIPIENTS
    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    assert sorted(envelope.rcpt_tos) == sorted(RECIPIENTS)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == (
        "[trendcast] Data validation FAILED: ml_item_daily_sales (3 blocking) run dq-20240430T060000Z-abcdef12"
    )
    assert [a.strip() for a in message["To"].split(",")] == RECIPIENTS
    assert message["From"] == "trendcast@shop.example"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    page = message.get_body(("html",)).get_content()
    for outcome in gate.failures:
        assert outcome.check in text and outcome.expectation_type in text
        assert outcome.check in page and outcome.expectation_type in page
    assert "-7" in text and "-7" in page  # a bad value
    assert "observed: 2024-04-26" in text and "between 2024-04-29 and 2024-04-29" in text
    assert "price_mostly_known [warning]" in text  # warnings are listed too, marked as such
    assert "dq-20240430T060000Z-abcdef12" in text and "2024-04-30 06:00 UTC" in text
    assert "/state/data_docs/validations/x.html" in text and "Logs:" in text
    # hostile values are escaped in HTML, shown verbatim in text
    assert "<b>10002</b>" not in page and "&lt;b&gt;10002&lt;/b&gt;" in page
    assert "'<b>10002</b>'" in text


@pytest.mark.smtp
def test_task_failure_alert_over_smtp(smtp_server, tmp_path: Path) -> None:
    handler, port = smtp_server
    settings = Settings(state_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port, alert_recipients=RECIPIENTS[0])
    try:
        raise RuntimeError("dbt build failed: <model> broke")
    except RuntimeError as exc:
        delivery = send_task_failure_alert(
            "trendcast_daily",
            "score",
            "manual__2024-04-30",
            dt.datetime(2024, 4, 30),
            exc,
            "http://airflow/log?x=1&y=2",
            settings,
        )
    assert delivery.method == "smtp"
    message = email.message_from_bytes(handler.envelopes[0].content, policy=email.policy.default)
    assert message["Subject"] == "[trendcast] Task FAILED: trendcast_daily.score run manual__2024-04-30"
    text = message.get_body(("plain",)).get_content()
    page = message.get_body(("html",)).get_content()
    assert "RuntimeError: dbt build failed: <model> broke" in text and "http://airflow/log?x=1&y=2" in text
    assert "&lt;model&gt;" in page and "x=1&amp;y=2" in page and "<model>" not in page


def test_without_smtp_the_alert_goes_to_the_outbox(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, alert_recipients="a@example.com; b@example.com")
    assert smtp_config(settings) is None
    assert alert_recipients(settings) == ["a@example.com", "b@example.com"]
    delivery = deliver(build_validation_alert(_failed_gate(), settings), settings)
    assert delivery.method == "outbox" and delivery.path.parent == tmp_path.resolve() / "outbox"
    message = email.message_from_bytes(delivery.path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "a@example.com, b@example.com"
    assert "units_sold_range" in message.get_body(("plain",)).get_content()


def test_subject_cannot_inject_headers(tmp_path: Path) -> None:
    gate = _failed_gate()
    gate.suites[0].suite = "evil\r\nBcc: victim@example.com"
    message = build_validation_alert(gate, Settings(state_dir=tmp_path))
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed["Bcc"] is None and "\n" not in parsed["Subject"]


def test_airflow_smtp_connection_uri_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", "smtp://user:p%40ss@mail.example:2525?disable_tls=false")
    config = smtp_config(Settings(state_dir=tmp_path))
    assert config is not None
    assert (config.host, config.port, config.user, config.password, config.starttls) == (
        "mail.example",
        2525,
        "user",
        "p@ss",
        True,
    )
