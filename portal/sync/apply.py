"""The one write path of the sync: a booking through a connection (SPEC E1, E2, E4, O, W6).

Webhooks, the backfill and the reconciliation all call ``apply_booking``.
It is idempotent on (subaccount, invitee URI): the unique index decides who
inserts when two workers apply the same booking at once; the loser adds its
``AppointmentSource`` to the winner's appointment. Every decision is recorded
as a ``SyncDecision`` for the support trace (S2).
"""
from collections import namedtuple
from contextlib import nullcontext

from peewee import SqliteDatabase

from portal import live
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
    SyncDecision,
    normalize_email,
)
from portal.models import Origin
from portal.sync import apply_statements as statements, events, meeting, ownership, windows
from portal.sync.status import change_status
from portal.timeutil import utcnow

WEBHOOK, BACKFILL, RECONCILE = "webhook", "backfill", "reconcile"
_ORIGINS = {WEBHOOK: Origin.WEBHOOK, BACKFILL: Origin.BACKFILL, RECONCILE: Origin.RECONCILIATION}

Applied = namedtuple("Applied", "outcome reason rule detail appointment")
ALREADY_IMPORTED = "W6: already imported"


def write_transaction():
    """A transaction that takes the write lock up front on SQLite (a savepoint inside another one).

    A deferred SQLite transaction that reads and then writes fails at once
    (``database is locked``) when another process wrote in between; BEGIN
    IMMEDIATE makes concurrent workers queue on the busy timeout instead.
    """
    if isinstance(db.obj, SqliteDatabase) and not db.in_transaction():
        return db.atomic(lock_type="IMMEDIATE")
    return db.atomic()


# PostgreSQL's codes for a conflict that is nobody's fault and goes away when tried again: a deadlock
# (two workers inserting the same shared guest's contact in opposite orders) and a serialisation failure.
TRANSIENT_SQLSTATES = ("40P01", "40001")


def transient_conflict(exc):
    """Whether ``exc`` is a concurrent-write conflict the database resolved by cancelling this statement."""
    for cause in (exc, *getattr(exc, "args", ())[:1], exc.__context__):
        if getattr(cause, "pgcode", None) in TRANSIENT_SQLSTATES:
            return True
    return False


# The backfill window when the caller names none (the default of ``BACKFILL_DAYS``, SPEC W2).
DEFAULT_BACKFILL_DAYS = 180


def _remember(memo, key, read):
    """``read()``, once per ``key`` while the caller keeps the same ``memo`` dict (one batch)."""
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]


def _selections(connection):
    """The connection's selection periods by event type URI."""
    by_uri = {}
    for s in CalendarSelection.select().where(CalendarSelection.connection == connection.id):
        by_uri.setdefault(s.event_type_uri, []).append(s)
    return by_uri


def _reflects_cancellations(subaccount_id):
    found = statements.REFLECTS_CANCELLATIONS.first(id=subaccount_id)
    return bool(found and found[0])


def apply_booking(connection, booking, via, delivery=None, *, backfill_days=DEFAULT_BACKFILL_DAYS, memo=None):
    """Import, skip or update ``booking`` as seen through ``connection``; returns ``Applied``.

    ``backfill_days`` is the W2 window; ``memo``, a dict the caller keeps for
    one batch, reads each connection's selections and each subaccount's E4
    setting once per batch instead of once per booking.
    """
    gate = windows.status_gate(connection.status)
    if gate is not None:
        return _record(connection, booking, via, delivery, Outcome.SKIPPED, gate.reason, gate.rule, gate.detail)

    selections = _remember(memo, ("selections", connection.id), lambda: _selections(connection)).get(
        booking.event_type_uri, [])
    decision = windows.decide(booking, selections, connection.connected_at, backfill_days)
    reflect = _remember(memo, ("reflect", connection.subaccount_id),
                        lambda: _reflects_cancellations(connection.subaccount_id))
    # Inside a caller's transaction (a batch of deliveries) the caller's savepoint undoes a failure.
    with nullcontext() if db.in_transaction() else write_transaction(), event_origin(connection, via, delivery):
        existing = find_appointment(connection.subaccount_id, booking.invitee_uri)
        if existing is not None and decision.import_:
            meeting.refresh_details(existing, booking)
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


def event_origin(connection, via, delivery):
    """Events of this apply: from the webhook, backfill or reconciliation; a backfill starts workflows only by choice."""
    cause = f"delivery {delivery.id}" if delivery is not None else f"connection {connection.id}"
    starts = via != BACKFILL or bool(getattr(connection, "backfill_starts_workflows", False))
    return events.origin_of(_ORIGINS.get(via, via), cause, starts_workflows=starts)


def find_appointment(subaccount_id, invitee_uri):
    if not invitee_uri:
        return None
    return statements.APPOINTMENT_BY_INVITEE.first_instance(subaccount=subaccount_id, invitee_uri=invitee_uri)


# ------------------------------------------------------------------ import (E1, E2, O, W6)
def _import(connection, booking, selections, decision, reflect):
    """A new appointment (the caller found none), or a duplicate if another worker just made it."""
    selection = _selection_for(selections)
    owner, owner_reason = ownership.owner_for(connection, selection.shared, booking.event_type_uri)
    # O3 for a contact first seen in this booking: this appointment is its latest.
    contact, new_contact = _upsert_contact(connection.subaccount_id, booking.email, booking.name,
                                           assigned_user=owner.id)
    fields = dict(
        subaccount=connection.subaccount_id,
        source=Source.CALENDLY,
        title=booking.title[:255],
        start=booking.start,
        end=booking.end,
        contact=contact.id,
        owner=owner.id,
        owner_reason=owner_reason[:255],
        invitee_uri=booking.invitee_uri,
        event_uri=booking.event_uri,
        event_type_uri=booking.event_type_uri,
        calendar_name=selection.name,
        booked_at=booking.created_at,
        created_at=utcnow(),
        **meeting.appointment_details(booking),
    )
    # Losing the insert race to another worker inserts nothing (no error, so the transaction goes on).
    appointment_id = _insert_new(Appointment.insert(**fields), Appointment.id)
    if appointment_id is None:
        existing = find_appointment(connection.subaccount_id, booking.invitee_uri)
        if existing is None:
            raise RuntimeError(f"appointment for {booking.invitee_uri} was neither inserted nor found")
        if new_contact:
            ownership.refresh_assigned_user(contact)
        return _duplicate(existing, connection)
    appointment = Appointment(id=appointment_id, **fields)
    if new_contact:
        events.contact_created(contact)
    events.appointment_booked(appointment)

    _add_source(appointment, connection)
    known = [] if new_contact else [contact]  # contacts seen before: their latest appointment is looked up
    for email in booking.guest_emails:
        guest, new_guest = _upsert_contact(connection.subaccount_id, email, assigned_user=owner.id)
        if new_guest:
            events.contact_created(guest)
        else:
            known.append(guest)
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
    for person in known:
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
    return _upsert_contact(subaccount_id, email, name)[0]


def upsert_contact_recorded(subaccount_id, email, name=""):
    """``upsert_contact`` that records "contact created" (in the caller's transaction) when it is new."""
    contact, created = _upsert_contact(subaccount_id, email, name)
    if created:
        events.contact_created(contact)
    return contact


def _upsert_contact(subaccount_id, email, name="", assigned_user=None):
    """``(contact, created)``; a new contact starts with ``assigned_user``."""
    normalized = normalize_email(email)
    name = (name or "").strip()[:255]
    fields = dict(subaccount=subaccount_id, email=(email or "").strip()[:255], email_normalized=normalized, name=name,
                  assigned_user=assigned_user, created_at=utcnow())
    new_id = _insert_new(Contact.insert(**fields), Contact.id)
    if new_id is not None:
        return Contact(id=new_id, **fields), True
    contact = Contact.get((Contact.subaccount == subaccount_id) & (Contact.email_normalized == normalized))
    if name and not contact.name:
        Contact.update(name=name).where((Contact.id == contact.id) & (Contact.name == "")).execute()
        contact.name = name
    return contact, False


def _insert_new(query, primary_key):
    """Run an INSERT that gives way to an existing row (same unique key); the new id, or None."""
    rows = list(query.on_conflict_ignore().returning(primary_key).tuples().execute())
    return rows[0][0] if rows else None


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


ENDED = (AppointmentStatus.CANCELLED, AppointmentStatus.RESCHEDULED)


def _mark_cancelled(appointment, booking):
    """Set the cancelled (or, moved to another time, rescheduled) status once; True when it changed."""
    to = AppointmentStatus.RESCHEDULED if booking.new_invitee_uri else AppointmentStatus.CANCELLED
    if appointment.status in ENDED and to == AppointmentStatus.CANCELLED:
        return False
    return change_status(appointment, to, extra={"cancelled_at": booking.canceled_at or utcnow()})


def _link_reschedule(subaccount_id, old_invitee_uri, replacement):
    """Point the old appointment at its replacement; a rescheduled booking is a cancelled one."""
    old = find_appointment(subaccount_id, old_invitee_uri)
    if old is None or old.id == replacement.id:
        return False
    linked = bool(
        Appointment.update(rescheduled_to=replacement.id)
        .where((Appointment.id == old.id) & (
            Appointment.rescheduled_to.is_null() | (Appointment.rescheduled_to != replacement.id)))
        .execute()
    )
    extra = {} if old.cancelled_at else {"cancelled_at": utcnow()}
    return change_status(old, AppointmentStatus.RESCHEDULED, extra=extra) or linked


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
    live.touch(connection.subaccount_id)  # the Connections row and any changed appointment, after the commit
    statements.RECORD_DECISION.insert(
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
        at=utcnow(),
    )
    return Applied(outcome, reason, rule, detail, appointment)


def record_error(connection, booking, via, delivery, error):
    """Record that applying ``booking`` failed (S2 counts errors)."""
    return _record(connection, booking, via, delivery, Outcome.SKIPPED, SkipReason.ERROR, "S2",
                   f"error while applying: {error}"[:2000])


# The trace of a change that is not a booking import (a no-show), same rules as a booking's.
record_decision = _record
