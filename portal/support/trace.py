"""The booking trace: every delivery and decision about one booking, across subaccounts (SPEC S2).

Support staff paste what they have — a Calendly invitee URI, an event URI or
the guest's email — and see, per booking, what happened in each subaccount
and the SPEC rule that decided it.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from peewee import JOIN

from portal.models import (
    Appointment,
    CalendlyConnection,
    Contact,
    Outcome,
    Subaccount,
    SyncDecision,
    User,
    WebhookDelivery,
    normalize_email,
)
from portal.support.enrolments import caused_by
from portal.support.redaction import connection_secrets, redact
from portal.timeutil import utcnow

LIMIT = 500
# Deliveries that never reached a decision are found by email only in this
# recent window (their body is scanned, so the window keeps that cheap).
BODY_SCAN_DAYS = 14

INVITEE, EVENT, EMAIL = "invitee", "event", "email"


class TraceQueryError(ValueError):
    """What was pasted is not something a booking can be found by."""


def classify(text):
    """``(kind, value)`` for a pasted invitee URI, event URI or guest email."""
    value = (text or "").strip().strip("<>\"'")
    if not value:
        raise TraceQueryError("Paste a Calendly event or invitee URI, or a guest's email address.")
    if "@" in value and "/" not in value:
        return EMAIL, normalize_email(value)
    value = value.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if "/scheduled_events/" in value and "/invitees/" in value:
        return INVITEE, value
    if "/scheduled_events/" in value:
        return EVENT, value
    raise TraceQueryError(
        "That is not a Calendly URI or an email address. Paste an event URI "
        "(…/scheduled_events/…), an invitee URI (…/scheduled_events/…/invitees/…) or the guest's email."
    )


@dataclass
class Step:
    at: datetime
    kind: str  # "delivery" | "decision"
    row: object
    connection: object  # a CalendlyConnection with owner_email/subaccount_name, or None
    text: str = ""


@dataclass
class Verdict:
    """Where a booking ended up in one subaccount."""

    subaccount_name: str
    appointment: object = None  # the Appointment, when imported
    decision: object = None  # the latest decision, when not imported


@dataclass
class Booking:
    invitee_uri: str
    event_uri: str = ""
    emails: set = field(default_factory=set)
    steps: list = field(default_factory=list)
    verdicts: list = field(default_factory=list)
    enrolments: list = field(default_factory=list)  # the workflow runs it caused (issue 14)

    @property
    def email(self):
        return ", ".join(sorted(self.emails))


def trace(text, now=None):
    """Every booking matching ``text``, each with its steps and verdicts."""
    kind, value = classify(text)
    now = now or utcnow()
    decisions, deliveries, appointments = _find(kind, value, now)

    connection_ids = {d.connection_id for d in decisions + deliveries if d.connection_id}
    connections = _connections(connection_ids)
    subaccount_names = dict(Subaccount.select(Subaccount.id, Subaccount.name).where(
        Subaccount.id.in_({d.subaccount_id for d in decisions if d.subaccount_id}
                          | {a.subaccount_id for a in appointments}
                          | {c.subaccount_id for c in connections.values()})
    ).tuples())

    secrets = connection_secrets(connection_ids)
    bookings = {}

    def booking_for(invitee_uri, event_uri=""):
        key = invitee_uri or event_uri or "unknown"
        b = bookings.get(key)
        if b is None:
            b = bookings[key] = Booking(invitee_uri=invitee_uri or "", event_uri=event_uri or "")
        if event_uri and not b.event_uri:
            b.event_uri = event_uri
        return b

    for d in decisions:
        d.detail = redact(d.detail, secrets)
        b = booking_for(d.invitee_uri, d.event_uri)
        if d.invitee_email:
            b.emails.add(normalize_email(d.invitee_email))
        b.steps.append(Step(d.at, "decision", d, connections.get(d.connection_id), d.detail))
    for w in deliveries:
        b = booking_for(w.invitee_uri, _event_of(w.invitee_uri))
        b.steps.append(Step(w.received_at, "delivery", w, connections.get(w.connection_id), redact(w.error, secrets)))
    for a in appointments:
        b = booking_for(a.invitee_uri, a.event_uri)
        if a.contact_id and a.contact:
            b.emails.add(normalize_email(a.contact.email))

    for b in bookings.values():
        b.steps.sort(key=lambda s: (s.at, s.kind == "decision", s.row.id))
        mine = [a for a in appointments if a.invitee_uri == b.invitee_uri]
        b.verdicts = _verdicts(b, mine, subaccount_names)
        b.enrolments = caused_by({a.id for a in mine}, {a.contact_id for a in mine if a.contact_id},
                                 {s.row.id for s in b.steps if s.kind == "delivery"},
                                 {s.row.connection_id for s in b.steps if s.row.connection_id})
    return kind, sorted(bookings.values(), key=lambda b: b.steps[-1].at if b.steps else now, reverse=True)


def _find(kind, value, now):
    decision_q = SyncDecision.select().order_by(SyncDecision.at.desc()).limit(LIMIT)
    delivery_q = WebhookDelivery.select(
        WebhookDelivery.id, WebhookDelivery.connection, WebhookDelivery.received_at, WebhookDelivery.event,
        WebhookDelivery.invitee_uri, WebhookDelivery.state, WebhookDelivery.error, WebhookDelivery.attempts,
    ).order_by(WebhookDelivery.received_at.desc()).limit(LIMIT)

    if kind == INVITEE:
        decisions = list(decision_q.where(SyncDecision.invitee_uri == value))
        deliveries = list(delivery_q.where(WebhookDelivery.invitee_uri == value))
        invitee_uris = {value}
    elif kind == EVENT:
        decisions = list(decision_q.where(SyncDecision.event_uri == value))
        # Invitee URIs extend their event's URI: a range scan on the index.
        prefix = value + "/invitees/"
        deliveries = list(delivery_q.where(
            (WebhookDelivery.invitee_uri >= prefix) & (WebhookDelivery.invitee_uri < value + "/invitees0")
        ))
        invitee_uris = {d.invitee_uri for d in decisions + deliveries if d.invitee_uri}
    else:
        by_contact = (
            Appointment.select(Appointment.invitee_uri)
            .join(Contact, on=(Appointment.contact == Contact.id))
            .where((Contact.email_normalized == value) & Appointment.invitee_uri.is_null(False))
        )
        invitee_uris = {a.invitee_uri for a in by_contact}
        # The engine stores the email normalized (E2), as ``value`` is.
        decisions = list(decision_q.where(
            (SyncDecision.invitee_email == value) | SyncDecision.invitee_uri.in_(list(invitee_uris))
        ))
        invitee_uris |= {d.invitee_uri for d in decisions if d.invitee_uri}
        deliveries = list(delivery_q.where(
            WebhookDelivery.invitee_uri.in_(list(invitee_uris))
            | ((WebhookDelivery.received_at >= now - timedelta(days=BODY_SCAN_DAYS))
               & WebhookDelivery.body.contains(value))
        ))
        invitee_uris |= {d.invitee_uri for d in deliveries if d.invitee_uri}

    # Appointments are unique per (subaccount, invitee URI): look them up in
    # the subaccounts the decisions and deliveries came from, on that index.
    subaccounts = {d.subaccount_id for d in decisions if d.subaccount_id}
    delivery_connections = {d.connection_id for d in deliveries if d.connection_id}
    if delivery_connections:
        subaccounts |= {c.subaccount_id for c in CalendlyConnection.select(CalendlyConnection.subaccount)
                        .where(CalendlyConnection.id.in_(list(delivery_connections)))}
    cond = None
    if invitee_uris and subaccounts:
        cond = Appointment.subaccount.in_(list(subaccounts)) & Appointment.invitee_uri.in_(list(invitee_uris))
    if kind == EVENT:
        by_event = Appointment.event_uri == value
        cond = by_event if cond is None else cond | by_event
    appointments = []
    if cond is not None:
        appointments = list(
            Appointment.select(Appointment, Contact, User)
            .join(Contact, JOIN.LEFT_OUTER, on=(Appointment.contact == Contact.id))
            .switch(Appointment)
            .join(User, JOIN.LEFT_OUTER, on=(Appointment.owner == User.id))
            .where(cond)
            .limit(LIMIT)
        )
    return decisions, deliveries, appointments


def _connections(ids):
    if not ids:
        return {}
    rows = (
        CalendlyConnection.select(
            CalendlyConnection.id, CalendlyConnection.subaccount, CalendlyConnection.user,
            CalendlyConnection.calendly_email, CalendlyConnection.status,
            User.email.alias("owner_email"), Subaccount.name.alias("subaccount_name"),
        )
        .join(User, on=(CalendlyConnection.user == User.id))
        .switch(CalendlyConnection)
        .join(Subaccount, on=(CalendlyConnection.subaccount == Subaccount.id))
        .where(CalendlyConnection.id.in_(list(ids)))
        .objects()
    )
    return {c.id: c for c in rows}


def _event_of(invitee_uri):
    return invitee_uri.split("/invitees/", 1)[0] if invitee_uri and "/invitees/" in invitee_uri else ""


def _verdicts(booking, appointments, subaccount_names):
    """Per subaccount: the appointment if there is one, else the decision that explains it.

    An import outranks later decisions (a W6 duplicate after an import means
    "already there"); otherwise the latest decision is the explanation.
    """
    verdicts = {}
    for a in appointments:
        verdicts[a.subaccount_id] = Verdict(subaccount_names.get(a.subaccount_id, "?"), appointment=a)
    for step in booking.steps:  # chronological
        if step.kind != "decision":
            continue
        sid = step.row.subaccount_id or (step.connection.subaccount_id if step.connection else None)
        if sid is None:
            continue
        v = verdicts.get(sid)
        if v is None:
            v = verdicts[sid] = Verdict(subaccount_names.get(sid, "?"))
        if v.appointment is None and not (v.decision is not None and is_imported(v)):
            v.decision = step.row
    return sorted(verdicts.values(), key=lambda v: v.subaccount_name)


def is_imported(verdict):
    return verdict.appointment is not None or (
        verdict.decision is not None and verdict.decision.outcome in (Outcome.IMPORTED, Outcome.UPDATED)
    )
