"""Which digests went out: ``ops.alert_deliveries`` keeps one row per (kind, key) so a rerun of the same date
does not send the same digest again; a digest whose content changed (a corrected day) is sent once more."""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa

from trendcast.alerts import Delivery
from trendcast.settings import Settings, get_settings
from trendcast.warehouse import connect

__all__ = ["content_hash", "already_delivered", "record_delivery"]

_DDL = (
    "create table if not exists ops.alert_deliveries ("
    "kind varchar not null, delivery_key varchar not null, content_hash varchar not null, "
    "message_id varchar, method varchar, delivered_at timestamp not null, primary key (kind, delivery_key))"
)


def content_hash(text: str) -> str:
    """A stable fingerprint of what a digest says (its plain-text body without the send time)."""
    return hashlib.sha256(text.encode()).hexdigest()


def already_delivered(kind: str, key: str, digest: str, settings: Settings | None = None) -> bool:
    """True when a ``kind`` message for ``key`` with this content was delivered before."""
    with connect(settings or get_settings()) as conn:
        conn.execute(sa.text("create schema if not exists ops"))
        conn.execute(sa.text(_DDL))
        query = "select content_hash from ops.alert_deliveries where kind = :kind and delivery_key = :key"
        sent = conn.execute(sa.text(query), {"kind": kind, "key": key}).scalar()
    return sent == digest


def record_delivery(kind: str, key: str, digest: str, delivery: Delivery, settings: Settings | None = None) -> None:
    """Remember that ``delivery`` carried the ``kind`` message for ``key`` (replacing an earlier version)."""
    params = {
        "kind": kind,
        "key": key,
        "hash": digest,
        "message_id": delivery.message_id,
        "method": delivery.method,
        "at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }
    with connect(settings or get_settings()) as conn:
        conn.execute(sa.text("create schema if not exists ops"))
        conn.execute(sa.text(_DDL))
        conn.execute(sa.text("delete from ops.alert_deliveries where kind = :kind and delivery_key = :key"), params)
        conn.execute(
            sa.text("insert into ops.alert_deliveries values (:kind, :key, :hash, :message_id, :method, :at)"),
            params,
        )
