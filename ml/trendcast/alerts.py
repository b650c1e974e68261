"""Alert emails: failed validations, failed pipeline tasks and the daily digest.

Messages are ``multipart/alternative`` (plain text + HTML; every value HTML-escaped, since values come from
the data). They go over SMTP when one is configured (``TRENDCAST_SMTP_*``, or an Airflow SMTP connection in
``AIRFLOW_CONN_<ID>``), otherwise into ``<state_dir>/outbox/`` as ``.eml`` files any mail client opens.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
import re
import smtplib
import ssl
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from trendcast.settings import Settings, get_settings

__all__ = [
    "SmtpConfig",
    "Delivery",
    "smtp_config",
    "alert_recipients",
    "make_message",
    "html_table",
    "deliver",
    "where_to_look",
    "build_task_failure_alert",
    "send_task_failure_alert",
    "on_task_failure",
    "outbox_dir",
]

log = logging.getLogger(__name__)

_STYLE = (
    "body{font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222}"
    "table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;"
    "vertical-align:top}th{background:#f2f2f2}.fail{color:#b00020;font-weight:bold}.warn{color:#a66b00}"
    "code{font-family:Menlo,Consolas,monospace;font-size:12px}"
)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout_s: float = 30.0


@dataclass
class Delivery:
    """Where a message went: ``smtp`` (with the server) or ``outbox`` (with the .eml path)."""

    method: str
    subject: str
    recipients: list[str]
    message_id: str
    path: Path | None = None
    server: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """SMTP settings from ``TRENDCAST_SMTP_*``, else from Airflow's SMTP connection URI; None = use the outbox."""
    if settings.smtp_host:
        return SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user or None,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            ssl=settings.smtp_ssl,
            timeout_s=settings.smtp_timeout_s,
        )
    conn_id = settings.smtp_conn_id
    uri = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not uri or uri.lstrip().startswith("{"):
        return None
    parts = urlsplit(uri)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return SmtpConfig(
        host=parts.hostname or "localhost",
        port=parts.port or 25,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=not _truthy(query.get("disable_tls", "true")) if "disable_tls" in query else False,
        ssl=not _truthy(query.get("disable_ssl", "true")) if "disable_ssl" in query else False,
        timeout_s=float(query.get("timeout", 30)),
    )


def alert_recipients(settings: Settings) -> list[str]:
    """``TRENDCAST_ALERT_RECIPIENTS``: comma- or semicolon-separated addresses."""
    return [a.strip() for a in re.split(r"[,;]", settings.alert_recipients) if a.strip()]


def outbox_dir(settings: Settings) -> Path:
    return settings.state_path / "outbox"


def make_message(
    subject: str,
    text: str,
    html_body: str,
    settings: Settings,
    recipients: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message (plain text first, HTML preferred by mail clients)."""
    message = EmailMessage()
    # Header injection: data-derived text never carries line breaks into a header.
    message["Subject"] = re.sub(r"[\r\n]+", " ", subject)[:250]
    message["From"] = settings.smtp_from
    to = list(recipients) if recipients is not None else alert_recipients(settings)
    if to:
        message["To"] = ", ".join(to)
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain="trendcast.local")
    for key, value in (headers or {}).items():
        message[key] = re.sub(r"[\r\n]+", " ", value)
    message.set_content(text)
    page = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{_STYLE}</style></head>'
        f"<body>{html_body}</body></html>"
    )
    message.add_alternative(page, subtype="html")
    return message


def html_table(header: Sequence[str], rows: Sequence[Sequence[Any]], raw_html_columns: Sequence[int] = ()) -> str:
    """An HTML table; cells are escaped except the column indexes the caller built as HTML itself."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f"<td>{cell if i in raw_html_columns else html.escape('' if cell is None else str(cell))}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def deliver(message: EmailMessage, settings: Settings | None = None) -> Delivery:
    """Send over SMTP when configured (and recipients are set), else write ``<state_dir>/outbox/<id>.eml``."""
    settings = settings or get_settings()
    recipients = [a.strip() for a in str(message.get("To", "")).split(",") if a.strip()]
    config = smtp_config(settings)
    subject = str(message["Subject"])
    message_id = str(message["Message-ID"])
    if config and recipients:
        _send_smtp(message, config, recipients)
        log.info("sent alert %r to %s via %s:%s", subject, ", ".join(recipients), config.host, config.port)
        return Delivery("smtp", subject, recipients, message_id, server=f"{config.host}:{config.port}")
    if config and not recipients:
        log.warning("SMTP is configured but TRENDCAST_ALERT_RECIPIENTS is empty: writing the alert to the outbox")
    folder = outbox_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:60]
    path = folder / f"{stamp}-{slug}-{uuid.uuid4().hex[:6]}.eml"
    path.write_bytes(message.as_bytes())
    log.info("wrote alert %r to %s", subject, path)
    return Delivery("outbox", subject, recipients, message_id, path=path)


def _send_smtp(message: EmailMessage, config: SmtpConfig, recipients: list[str]) -> None:
    smtp_class = smtplib.SMTP_SSL if config.ssl else smtplib.SMTP
    with smtp_class(config.host, config.port, timeout=config.timeout_s) as smtp:
        if config.starttls and not config.ssl:
            smtp.starttls(context=ssl.create_default_context())
        if config.user:
            smtp.login(config.user, config.password or "")
        smtp.send_message(message, to_addrs=recipients)


def where_to_look(
    settings: Settings, data_docs: str | None, log_url: str | None = None, run_id: str | None = None
) -> list[tuple[str, str]]:
    places = []
    if data_docs:
        places.append(("Data Docs", data_docs))
    if log_url:
        places.append(("Task log", log_url))
    places.append(("Logs", str(settings.state_path / "logs")))
    if run_id:
        places.append(("Results table", f"select * from ops.dq_results where run_id = '{run_id}'"))
    return places


def build_task_failure_alert(
    dag_id: str,
    task_id: str,
    run_id: str,
    logical_date: dt.datetime | dt.date | str | None,
    exception: BaseException | str | None,
    log_url: str | None,
    settings: Settings | None = None,
) -> EmailMessage:
    """The email for a failed pipeline task (the body of an Airflow failure callback)."""
    settings = settings or get_settings()
    when = logical_date.isoformat() if isinstance(logical_date, dt.date) else str(logical_date or "")
    error = f"{type(exception).__name__}: {exception}" if isinstance(exception, BaseException) else str(exception or "")
    trace = ""
    if isinstance(exception, BaseException) and exception.__traceback__ is not None:
        trace = "".join(traceback.format_exception(exception))[-4000:]
    subject = f"[trendcast] Task FAILED: {dag_id}.{task_id} run {run_id}"
    fields = [
        ("DAG", dag_id),
        ("Task", task_id),
        ("Run id", run_id),
        ("Logical date", when),
        ("Error", error),
    ]
    text = ["A trendcast pipeline task failed.", ""] + [f"{k + ':':<14}{v}" for k, v in fields]
    if trace:
        text += ["", "Traceback (last lines):", trace]
    places = where_to_look(settings, str(settings.state_path / "data_docs" / "index.html"), log_url)
    text += ["", "Where to look:"] + [f"  {label}: {where}" for label, where in places]
    parts = ['<h2 class="fail">trendcast task FAILED</h2>', html_table(["field", "value"], fields)]
    if trace:
        parts.append(f"<h3>Traceback</h3><pre><code>{html.escape(trace)}</code></pre>")
    parts.append("<h3>Where to look</h3>" + html_table(["what", "where"], places))
    headers = {"X-Trendcast-Run-Id": str(run_id), "X-Trendcast-Kind": "task-failure"}
    return make_message(subject, "\n".join(text) + "\n", "".join(parts), settings, headers=headers)


def send_task_failure_alert(
    dag_id: str,
    task_id: str,
    run_id: str,
    logical_date: dt.datetime | dt.date | str | None,
    exception: BaseException | str | None,
    log_url: str | None,
    settings: Settings | None = None,
) -> Delivery:
    """Build and deliver the task-failure email; usable from any Airflow ``on_failure_callback``."""
    settings = settings or get_settings()
    message = build_task_failure_alert(dag_id, task_id, run_id, logical_date, exception, log_url, settings)
    return deliver(message, settings)


def on_task_failure(context: Mapping[str, Any]) -> Delivery | None:
    """An Airflow ``on_failure_callback``: reads the task context dict, never raises."""
    try:
        ti = context.get("ti") or context.get("task_instance")
        dag_run = context.get("dag_run")
        return send_task_failure_alert(
            dag_id=str(getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "unknown")),
            task_id=str(getattr(ti, "task_id", "unknown")),
            run_id=str(context.get("run_id") or getattr(dag_run, "run_id", "unknown")),
            logical_date=context.get("logical_date"),
            exception=context.get("exception"),
            log_url=getattr(ti, "log_url", None),
        )
    except Exception:  # noqa: BLE001 - a callback that raises hides the original failure
        log.exception("could not send the task-failure alert")
        return None
