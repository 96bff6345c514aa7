"""One connection's recent history: deliveries, decisions, imports per hour (SPEC S2)."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import PostgresqlDatabase, fn

from portal.extensions import db
from portal.models import Outcome, SyncDecision, Task, WebhookDelivery
from portal.support.redaction import redact
from portal.timeutil import parse_iso, utcnow

HOURS = 7 * 24
SHORT, LONG = 50, 500  # timeline lengths: the page's default and "show more"


@dataclass
class Entry:
    """A line of the timeline: a webhook delivery or a sync decision."""

    at: datetime
    kind: str  # "delivery" | "decision"
    row: object
    text: str = ""  # error or decision detail, redacted


def recent(connection, limit=SHORT, secrets=()):
    """The latest ``limit`` deliveries and decisions of ``connection``, newest first."""
    deliveries = (
        WebhookDelivery.select(
            WebhookDelivery.id, WebhookDelivery.received_at, WebhookDelivery.event, WebhookDelivery.invitee_uri,
            WebhookDelivery.state, WebhookDelivery.error, WebhookDelivery.attempts, WebhookDelivery.applied_at,
        )
        .where(WebhookDelivery.connection == connection.id)
        .order_by(WebhookDelivery.received_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    decisions = (
        SyncDecision.select()
        .where(SyncDecision.connection == connection.id)
        .order_by(SyncDecision.at.desc(), SyncDecision.id.desc())
        .limit(limit)
    )
    entries = [Entry(d.received_at, "delivery", d, redact(d.error, secrets)) for d in deliveries]
    entries += [Entry(d.at, "decision", d, redact(d.detail, secrets)) for d in decisions]
    # A decision sorts above the delivery it was taken for when both share a second.
    entries.sort(key=lambda e: (e.at, e.kind == "decision", e.row.id), reverse=True)
    return entries[:limit]


def recent_tasks(connection, limit=5):
    return list(
        Task.select().where(Task.connection == connection.id).order_by(Task.created_at.desc(), Task.id.desc()).limit(limit)
    )


def _hour_of(column):
    """Truncate a timestamp column to its hour, in the database's own dialect."""
    if isinstance(db.obj, PostgresqlDatabase):
        return fn.date_trunc("hour", column)
    return fn.strftime("%Y-%m-%d %H:00:00", column)


def imports_per_hour(connection, now=None):
    """Bookings imported through ``connection`` in each of the last 168 hours.

    Returns ``(first_hour, counts)``: ``counts[i]`` is the number imported in
    the hour starting ``first_hour + i`` hours; the last slot is the current hour.
    """
    now = now or utcnow()
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    first_hour = current_hour - timedelta(hours=HOURS - 1)
    hour = _hour_of(SyncDecision.at)
    rows = (
        SyncDecision.select(hour.alias("hour"), fn.COUNT(SyncDecision.id))
        .where(
            (SyncDecision.connection == connection.id)
            & (SyncDecision.outcome == Outcome.IMPORTED)
            & (SyncDecision.at >= first_hour)
            & (SyncDecision.at <= now)
        )
        .group_by(hour)
        .tuples()
    )
    counts = [0] * HOURS
    for bucket, n in rows:
        bucket = parse_iso(bucket) if isinstance(bucket, str) else bucket
        index = int((bucket - first_hour).total_seconds() // 3600)
        if 0 <= index < HOURS:
            counts[index] += n
    return first_hour, counts
