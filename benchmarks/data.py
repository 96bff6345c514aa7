"""Rows and payloads for the bench: tenants, connections, deliveries, bulk appointments.

Bulk rows go in with ``bulk_insert`` in chunks inside one transaction;
deliveries are stored and enqueued exactly as the intake
leaves them (state ``queued``, job ``delivery-<id>`` on queue ``sync``).
"""
import io
import json
import secrets
from datetime import datetime, timedelta
from enum import Enum

from peewee import SqliteDatabase
from rq import Queue, Retry

from portal.calendly import signatures
from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentSource,
    CalendarSelection,
    CalendlyConnection,
    Contact,
    DeliveryState,
    Membership,
    Outcome,
    Source,
    Status,
    Subaccount,
    SyncDecision,
    User,
    WebhookDelivery,
)
from portal.queues import get_redis
from portal.pipeline import inbox
from portal.timeutil import to_iso, utcnow

API = "https://api.calendly.com"
PASSWORD = "bench-password-1"
CHUNK = 1000


def bulk_insert(model, rows):
    """``model.insert_many(rows).execute()``: one parameterised statement run by SQLite's executemany, or
    PostgreSQL's ``COPY … FROM STDIN`` (its bulk load: several times faster than multi-row INSERTs).

    Hand-written because Peewee's ``insert_many`` builds the SQL value by value:
    90% of the time of filling a subaccount with 1,000,000 appointments was
    spent there, not in the database. Peewee's Python-side defaults are filled
    in the same way (per row, so a generated default stays unique).
    """
    rows = list(rows)
    if not rows:
        return
    meta = model._meta
    given = list(rows[0])
    defaults = [f for f in meta.sorted_fields if f.name not in given and f.default is not None
                and not (f.primary_key and meta.auto_increment)]
    fields = [meta.combined[k] for k in given] + defaults
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    values = [tuple(_db_value(f, row[k]) for f, k in zip(fields, given))
              + tuple(_db_value(f, f.default() if callable(f.default) else f.default) for f in defaults)
              for row in rows]
    cursor = db.cursor()
    if isinstance(db.obj, SqliteDatabase):
        cursor.executemany(f'INSERT INTO "{meta.table_name}" ({columns}) VALUES '
                           f'({", ".join("?" * len(fields))})', values)
    else:
        text = "".join("\t".join(map(_copy_text, row)) + "\n" for row in values)
        cursor.copy_expert(f'COPY "{meta.table_name}" ({columns}) FROM STDIN', io.StringIO(text))


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value):
    """One value in COPY's text format (``\\N`` is NULL; backslash, tab and line ends escaped)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).translate(COPY_ESCAPES)


def _db_value(field, value):
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, (str, int, float, datetime)) or value is None:
        return value
    return field.db_value(value)  # a model instance for a foreign key, a date, a bool on PostgreSQL …


def user(email, subaccount=None, role="admin", support=False, name=""):
    found = User.get_or_none(User.email == email)
    if found is None:
        found = User(email=email, name=name or email.split("@")[0].title(), is_support=support)
        found.set_password(PASSWORD)
        found.save()
    if subaccount is not None:
        Membership.get_or_create(user=found, subaccount=subaccount, defaults={"role": role})
    return found


def tenant(name, email):
    """A subaccount with one admin; returns ``(subaccount, user)``."""
    sub, _ = Subaccount.get_or_create(name=name)
    return sub, user(email, sub)


def connection(subaccount, owner, calendars=("Intro call", "Check-up"), *, calendly_user=None):
    """A connected connection as the first Save leaves it (no Calendly behind it): rows only."""
    now = utcnow()
    token = secrets.token_hex(6)
    conn = CalendlyConnection.create(
        subaccount=subaccount, user=owner, calendly_user_uri=calendly_user or f"{API}/users/BENCH{token}",
        calendly_email=owner.email, calendly_name=owner.display_name, plan="teams", stage="paid",
        status=Status.CONNECTED, webhook_token=secrets.token_urlsafe(24), signing_key=secrets.token_urlsafe(32),
        webhook_subscription_uri=f"{API}/webhook_subscriptions/{token}", webhook_state="active",
        connected_at=now - timedelta(days=1), backfilled_at=now - timedelta(days=1),
    )
    for name in calendars:
        CalendarSelection.create(connection=conn, event_type_uri=event_type_uri(conn, name), name=name,
                                 selected_from=conn.connected_at, includes_backfill=True)
    return conn


def event_type_uri(conn, name):
    return f"{API}/event_types/{conn.id}-{name.lower().replace(' ', '-')}"


# ------------------------------------------------------------------ webhook deliveries
def envelope(conn, n, *, calendar="Intro call", start=None, email=None, created_at=None):
    """An ``invitee.created`` delivery as Calendly sends it (API-FACTS §7), booking number ``n``."""
    created_at = created_at or utcnow()
    start = start or (created_at + timedelta(days=1 + n % 60)).replace(minute=(n % 2) * 30, second=0,
                                                                        microsecond=0)
    event, invitee = f"BE{conn.id}x{n}", f"BI{conn.id}x{n}"
    email = email or f"guest{n}@bench.example"
    return {
        "event": "invitee.created",
        "created_at": to_iso(created_at),
        "created_by": conn.calendly_user_uri,
        "payload": {
            "uri": f"{API}/scheduled_events/{event}/invitees/{invitee}", "email": email,
            "name": f"Guest {n}", "first_name": None, "last_name": None, "status": "active", "timezone": "UTC",
            "text_reminder_number": None, "questions_and_answers": [], "tracking": {}, "rescheduled": False,
            "old_invitee": None, "new_invitee": None, "cancellation": None,
            "created_at": to_iso(created_at), "updated_at": to_iso(created_at),
            "event": f"{API}/scheduled_events/{event}",
            "scheduled_event": {
                "uri": f"{API}/scheduled_events/{event}", "name": calendar, "status": "active",
                "start_time": to_iso(start), "end_time": to_iso(start + timedelta(minutes=30)),
                "event_type": event_type_uri(conn, calendar), "created_at": to_iso(created_at),
                "event_memberships": [{"user": conn.calendly_user_uri}], "event_guests": [],
            },
        },
    }


def invitee_key(invitee_uri):
    """The booking number ``n`` of an invitee URI made by ``envelope``."""
    return int(invitee_uri.rsplit("x", 1)[1])


def signed_body(conn, n, key):
    raw = json.dumps(envelope(conn, n), separators=(",", ":")).encode()
    return raw, signatures.sign(key, raw)


def prefill_inbox(conn, count, first=0, job="jobs.sync.apply_batch"):
    """``count`` verified deliveries in the inbox, each with its RQ job queued, as the intake leaves them.

    ``job`` may name another function taking the delivery id (the no-op reference).
    Returns the delivery ids.
    """
    now = utcnow()
    ids = []
    with db.atomic():
        for base in range(first, first + count, CHUNK):
            rows = []
            for n in range(base, min(base + CHUNK, first + count)):
                body = envelope(conn, n)
                raw = json.dumps(body, separators=(",", ":"))
                rows.append({
                    "connection": conn.id, "webhook_token": conn.webhook_token, "received_at": now,
                    "headers": "{}", "body": raw, "event": "invitee.created",
                    "invitee_uri": body["payload"]["uri"], "state": DeliveryState.QUEUED,
                    "body_sha256": secrets.token_hex(32),
                })
            bulk_insert(WebhookDelivery, rows)
        ids = [r.id for r in WebhookDelivery.select(WebhookDelivery.id).where(
            (WebhookDelivery.connection == conn.id) & (WebhookDelivery.state == DeliveryState.QUEUED))
            .order_by(WebhookDelivery.id)]
    enqueue(ids, job)
    return ids


def enqueue(ids, job="jobs.sync.apply_batch"):
    """Enqueue one job per delivery id in pipelines, with the intake's job ids and retries."""
    queue = Queue(inbox.QUEUE, connection=get_redis())
    for base in range(0, len(ids), CHUNK):
        chunk = ids[base:base + CHUNK]
        queue.enqueue_many([
            Queue.prepare_data(job, (i,), job_id=inbox.job_id(i), retry=Retry(**inbox.RETRY),
                               description=f"Apply Calendly delivery {i}")
            for i in chunk
        ])


# ------------------------------------------------------------------ a subaccount at scale
def fill(subaccount, conn, appointments, contacts, *, first=0, with_history=False, anchor=None):
    """Add ``appointments`` Calendly appointments (numbered from ``first``) over ``contacts`` contacts.

    Appointments are 20 minutes apart from ``anchor`` (a Monday two years
    back), so any week holds about 500. With ``with_history`` each also gets
    the webhook delivery and sync decision its import would have left (the
    support console reads those), spread over the last 180 days.
    """
    anchor = anchor or _anchor()
    now = utcnow()
    calendar = CalendarSelection.get(CalendarSelection.connection == conn)
    existing = Contact.select().where(Contact.subaccount == subaccount).count()
    with db.atomic():
        for base in range(existing, contacts, CHUNK):
            bulk_insert(Contact, [
                {"subaccount": subaccount.id, "name": f"Person {i:07d}", "email": f"person{i}@scale.example",
                 "email_normalized": f"person{i}@scale.example", "assigned_user": conn.user_id, "created_at": now}
                for i in range(base, min(base + CHUNK, contacts))
            ])
        contact_ids = [c.id for c in Contact.select(Contact.id).where(Contact.subaccount == subaccount)
                       .order_by(Contact.id).limit(contacts)]
        for base in range(first, first + appointments, CHUNK):
            numbers = range(base, min(base + CHUNK, first + appointments))
            rows = []
            for i in numbers:
                start = anchor + timedelta(minutes=20 * i)
                rows.append({
                    "subaccount": subaccount.id, "source": Source.CALENDLY, "title": calendar.name,
                    "start": start, "end": start + timedelta(minutes=15),
                    "contact": contact_ids[i % len(contact_ids)], "owner": conn.user_id,
                    "owner_reason": "O1: personal calendar",
                    "invitee_uri": f"{API}/scheduled_events/SE{i}/invitees/SI{i}",
                    "event_uri": f"{API}/scheduled_events/SE{i}", "event_type_uri": calendar.event_type_uri,
                    "calendar_name": calendar.name, "booked_at": start - timedelta(days=7), "created_at": now,
                })
            bulk_insert(Appointment, rows)
            if with_history:
                _history(subaccount, conn, calendar, numbers, now)


def _history(subaccount, conn, calendar, numbers, now):
    first_id = Appointment.select(Appointment.id).where(
        Appointment.invitee_uri == f"{API}/scheduled_events/SE{numbers[0]}/invitees/SI{numbers[0]}").scalar()
    span = 180 * 24 * 3600
    deliveries, decisions, sources = [], [], []
    for offset, i in enumerate(numbers):
        at = now - timedelta(seconds=(i * 7919) % span)  # spread over the last 180 days
        invitee = f"{API}/scheduled_events/SE{i}/invitees/SI{i}"
        deliveries.append({"connection": conn.id, "webhook_token": conn.webhook_token, "received_at": at,
                           "headers": "{}", "body": "{}", "event": "invitee.created", "invitee_uri": invitee,
                           "state": DeliveryState.APPLIED, "attempts": 1, "applied_at": at,
                           "body_sha256": secrets.token_hex(16)})
        decisions.append({"subaccount": subaccount.id, "connection": conn.id, "via": "webhook",
                          "invitee_uri": invitee, "event_uri": f"{API}/scheduled_events/SE{i}",
                          "event_type_uri": calendar.event_type_uri, "invitee_email": f"person{i}@scale.example",
                          "outcome": Outcome.IMPORTED, "rule": "W2", "detail": "W2: created while selected", "at": at})
        sources.append({"appointment": first_id + offset, "connection": conn.id, "created_at": at})
    bulk_insert(WebhookDelivery, deliveries)
    bulk_insert(SyncDecision, decisions)
    bulk_insert(AppointmentSource, sources)


def _anchor():
    today = utcnow().date()
    monday = today - timedelta(days=today.weekday() + 7 * 104)
    return datetime.combine(monday, datetime.min.time()).replace(hour=8)


def busy_week(appointments):
    """A Monday (ISO date) in the middle of the filled range."""
    middle = _anchor() + timedelta(minutes=20 * (appointments // 2))
    return (middle.date() - timedelta(days=middle.weekday())).isoformat()


def analyze():
    """Fresh planner statistics after a bulk load (what a DBA does after one)."""
    if isinstance(db.obj, SqliteDatabase):
        db.obj.execute_sql("ANALYZE")
    else:
        db.obj.execute_sql("VACUUM ANALYZE")
