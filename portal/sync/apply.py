"""The one write path of the sync: a booking through a connection (SPEC E1, E2, E4, O, W6).

Webhooks, the backfill and the reconciliation all call ``apply_booking``.
It is idempotent on (subaccount, invitee URI): the unique index decides who
inserts when two workers apply the same booking at once; the loser adds its
``AppointmentSource`` to the winner's appointment. Every decision is recorded
as a ``SyncDecision`` for the support trace (S2).
"""
from collections import namedtuple

from flask import current_app
from peewee import IntegrityError, SqliteDatabase

from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentGuest,
    AppointmentSource,
    AppointmentStatus,
    CalendarSelection,
    Contact,
    Outcome,
    SkipReason,
    Source,
    Subaccount,
    SyncDecision,
    normalize_email,
)
from portal.sync import ownership, windows
from portal.timeutil import utcnow

WEBHOOK, BACKFILL, RECONCILE = "webhook", "backfill", "reconcile"

Applied = namedtuple("Applied", "outcome reason rule detail appointment")
ALREADY_IMPORTED = "W6: already imported"


def write_transaction():
    """A transaction that takes the write lock up front on SQLite.

    A deferred SQLite transaction that reads and then writes fails at once
    (``database is locked``) when another process wrote in between; BEGIN
    IMMEDIATE makes concurrent workers queue on the busy timeout instead.
    """
    if isinstance(db.obj, SqliteDatabase):
        return db.atomic(lock_type="IMMEDIATE")
    return db.atomic()


def apply_booking(connection, booking, via, delivery=None):
    """Import, skip or update ``booking`` as seen through ``connection``; returns ``Applied``."""
    gate = windows.status_gate(connection.status)
    if gate is not None:
        return _record(connection, booking, via, delivery, Outcome.SKIPPED, gate.reason, gate.rule, gate.detail)

    selections = list(
        CalendarSelection.select().where(
            (CalendarSelection.connection == connection.id)
            & (CalendarSelection.event_type_uri == booking.event_type_uri)
        )
    )
    decision = windows.decide(
        booking, selections, connection.connected_at, current_app.config.get("BACKFILL_DAYS", 180)
    )
    reflect = bool(
        Subaccount.select(Subaccount.reflect_cancellations).where(Subaccount.id == connection.subaccount_id).scalar()
    )
    with write_transaction():
        existing = find_appointment(connection.subaccount_id, booking.invitee_uri)
        if existing is not None and booking.canceled:
            if decision.import_:
                _add_source(existing, connection)
            result = _cancellation(existing, booking, reflect)
        elif not decision.import_:
            result = Applied(Outcome.SKIPPED, decision.reason, decision.rule, decision.detail, existing)
        elif existing is not None:
            result = _duplicate(existing, connection)
        else:
            result = _import(connection, booking, selections, decision, reflect)
        return _record(connection, booking, via, delivery, *result)


def find_appointment(subaccount_id, invitee_uri):
    if not invitee_uri:
        return None
    return Appointment.get_or_none(
        (Appointment.subaccount == subaccount_id) & (Appointment.invitee_uri == invitee_uri)
    )


# ------------------------------------------------------------------ import (E1, E2, O, W6)
def _import(connection, booking, selections, decision, reflect):
    """A new appointment (the caller found none), or a duplicate if another worker just made it."""
    selection = _selection_for(selections)
    contact = upsert_contact(connection.subaccount_id, booking.email, booking.name)
    owner, owner_reason = ownership.owner_for(connection, selection.shared, booking.event_type_uri)
    try:
        with db.atomic():  # a savepoint: losing the insert race must not end the transaction
            appointment = Appointment.create(
                subaccount=connection.subaccount_id,
                source=Source.CALENDLY,
                title=booking.title[:255],
                start=booking.start,
                end=booking.end,
                contact=contact,
                owner=owner,
                owner_reason=owner_reason[:255],
                invitee_uri=booking.invitee_uri,
                event_uri=booking.event_uri,
                event_type_uri=booking.event_type_uri,
                calendar_name=selection.name,
                booked_at=booking.created_at,
            )
    except IntegrityError:
        existing = find_appointment(connection.subaccount_id, booking.invitee_uri)
        if existing is None:
            raise
        return _duplicate(existing, connection)

    _add_source(appointment, connection)
    guests = []
    for email in booking.guest_emails:
        guest = upsert_contact(connection.subaccount_id, email)
        guests.append(guest)
        AppointmentGuest.insert(appointment=appointment, contact=guest).on_conflict_ignore().execute()
    detail = f"{decision.detail}; {owner_reason}"
    if booking.canceled:
        if reflect:
            _mark_cancelled(appointment, booking)
            detail += "; E4: imported as cancelled"
        else:
            detail += "; E4: cancellation not reflected"
    if reflect and booking.old_invitee_uri:
        if _link_reschedule(connection.subaccount_id, booking.old_invitee_uri, appointment):
            detail += "; E4: replaces a rescheduled appointment"
    if reflect and booking.new_invitee_uri:
        replacement = find_appointment(connection.subaccount_id, booking.new_invitee_uri)
        if replacement is not None and _link_reschedule(connection.subaccount_id, booking.invitee_uri, replacement):
            detail += "; E4: rescheduled to the replacement appointment"
    for person in [contact, *guests]:
        ownership.refresh_assigned_user(person)
    return Applied(Outcome.IMPORTED, None, decision.rule, detail, appointment)


def _duplicate(appointment, connection):
    """W6: the booking is already an appointment here; this connection becomes one of its sources."""
    if not _add_source(appointment, connection):
        return Applied(Outcome.SKIPPED, SkipReason.DUPLICATE, "W6", ALREADY_IMPORTED, appointment)
    others = [
        s.connection.user.display_name
        for s in appointment.sources.where(AppointmentSource.connection != connection.id)
    ]
    through = f" through {', '.join(others)}'s connection" if others else ""
    detail = f"{ALREADY_IMPORTED}{through}; added as a source"
    return Applied(Outcome.SKIPPED, SkipReason.DUPLICATE, "W6", detail, appointment)


def _selection_for(selections):
    """The period whose name and shared flag describe the calendar: the open one, else the latest."""
    open_ = [s for s in selections if s.selected_until is None]
    return max(open_ or selections, key=lambda s: (s.selected_from, s.id or 0))


def _add_source(appointment, connection):
    """Link ``connection`` as a deliverer of ``appointment``; True when the link is new."""
    return bool(
        AppointmentSource.insert(appointment=appointment, connection=connection.id)
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )


def upsert_contact(subaccount_id, email, name=""):
    """E2: the subaccount's contact for ``email`` (trimmed, case-insensitive), created if new.

    A new contact gets the name and email only. An existing contact keeps its
    name, unless it had none (an earlier guest-only contact).
    """
    normalized = normalize_email(email)
    name = (name or "").strip()[:255]
    Contact.insert(
        subaccount=subaccount_id, email=(email or "").strip()[:255], email_normalized=normalized, name=name
    ).on_conflict_ignore().execute()
    contact = Contact.get((Contact.subaccount == subaccount_id) & (Contact.email_normalized == normalized))
    if name and not contact.name:
        Contact.update(name=name).where((Contact.id == contact.id) & (Contact.name == "")).execute()
        contact.name = name
    return contact


# ------------------------------------------------------------------ cancellations (E4)
def _cancellation(appointment, booking, reflect):
    if not reflect:
        return Applied(Outcome.UNCHANGED, None, "E4", "E4: cancellation not reflected", appointment)
    changed = _mark_cancelled(appointment, booking)
    detail = "E4: marked cancelled" if changed else "E4: already cancelled"
    if booking.new_invitee_uri:
        replacement = find_appointment(appointment.subaccount_id, booking.new_invitee_uri)
        if replacement is not None:
            if _link_reschedule(appointment.subaccount_id, booking.invitee_uri, replacement):
                changed = True
            detail += "; rescheduled to the replacement appointment"
        else:
            detail += "; rescheduled (the replacement is linked when it arrives)"
    outcome = Outcome.UPDATED if changed else Outcome.UNCHANGED
    return Applied(outcome, None, "E4", detail, appointment)


def _mark_cancelled(appointment, booking):
    """Set the cancelled status once; True when it changed."""
    at = booking.canceled_at or utcnow()
    changed = (
        Appointment.update(status=AppointmentStatus.CANCELLED, cancelled_at=at)
        .where((Appointment.id == appointment.id) & (Appointment.status != AppointmentStatus.CANCELLED))
        .execute()
    )
    if changed:
        appointment.status, appointment.cancelled_at = AppointmentStatus.CANCELLED, at
    return bool(changed)


def _link_reschedule(subaccount_id, old_invitee_uri, replacement):
    """Point the old appointment at its replacement; a rescheduled booking is a cancelled one."""
    old = find_appointment(subaccount_id, old_invitee_uri)
    if old is None or old.id == replacement.id:
        return False
    fields = {"rescheduled_to": replacement.id}
    if old.status != AppointmentStatus.CANCELLED:
        fields.update(status=AppointmentStatus.CANCELLED, cancelled_at=utcnow())
    return bool(
        Appointment.update(**fields)
        .where((Appointment.id == old.id) & (
            Appointment.rescheduled_to.is_null() | (Appointment.rescheduled_to != replacement.id)))
        .execute()
    )


# ------------------------------------------------------------------ the trace (S2)
def _record(connection, booking, via, delivery, outcome, reason, rule, detail, appointment=None):
    """Store the decision, unless a listing job merely saw again what is already recorded.

    Backfill and reconciliation list the same bookings every few minutes;
    they add a row only when the outcome differs from the last one recorded
    for this booking and connection, so the counts of S2 count bookings.
    """
    quiet_duplicate = reason == SkipReason.DUPLICATE and detail == ALREADY_IMPORTED
    if via != WEBHOOK:
        last = (
            SyncDecision.select(SyncDecision.outcome, SyncDecision.reason, SyncDecision.rule)
            .where((SyncDecision.connection == connection.id) & (SyncDecision.invitee_uri == booking.invitee_uri))
            .order_by(SyncDecision.id.desc())
            .first()
        )
        same = last is not None and (last.outcome, last.reason, last.rule) == (outcome, reason, rule)
        if same or (quiet_duplicate and last is not None):
            return Applied(outcome, reason, rule, detail, appointment)
    SyncDecision.create(
        subaccount=connection.subaccount_id,
        connection=connection.id,
        delivery=delivery.id if delivery is not None else None,
        via=via,
        invitee_uri=booking.invitee_uri,
        event_uri=booking.event_uri,
        event_type_uri=booking.event_type_uri,
        invitee_email=normalize_email(booking.email),
        outcome=outcome,
        reason=reason,
        rule=rule,
        detail=detail,
    )
    return Applied(outcome, reason, rule, detail, appointment)


def record_error(connection, booking, via, delivery, error):
    """Record that applying ``booking`` failed (S2 counts errors)."""
    return _record(connection, booking, via, delivery, Outcome.SKIPPED, SkipReason.ERROR, "S2",
                   f"error while applying: {error}"[:2000])
