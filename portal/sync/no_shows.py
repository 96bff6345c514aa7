"""Calendly's no-shows on appointments (issue 17; the status itself is the Workflows issue's).

``invitee_no_show.created`` records when the invitee was marked a no-show
on the appointment of that invitee, ``invitee_no_show.deleted`` clears it.
Both arrive through the same inbox and apply path as bookings; applying one
twice changes nothing the second time. The backfill and the reconciliation
read the invitee's ``no_show`` field too, so a lost delivery is made good.
Every change is explained in the support trace (S2).

The status follows (issue 14): a no-show turns a Booked appointment into
No-show and its undoing turns it back to Booked, through ``change_status``
in the same transaction, so the history row and the domain event that
workflows start from are written once with the change.

Deliveries may be applied out of order (two workers, a retry): a no-show
change older than one already received for the same invitee (by Calendly's
``created_at`` on the envelope) is recorded but not applied.
"""
import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from portal.sync.webhook_events import NO_SHOW_CREATED, NO_SHOW_DELETED
from portal.extensions import db
from portal.models import Appointment, AppointmentStatus, DeliveryState, Outcome, WebhookDelivery
from portal.sync import windows
from portal.sync.apply import WEBHOOK, event_origin, find_appointment, record_decision, write_transaction
from portal.sync.status import change_status
from portal.sync.booking import BookingError
from portal.timeutil import parse_iso, to_iso, utcnow

RULE = "E1"


@dataclass(frozen=True)
class NoShowNotice:
    """What Calendly says about one invitee's no-show (the fields the trace records, like a ``Booking``'s)."""

    invitee_uri: str
    event_uri: str
    event_type_uri: str
    email: str
    marked: bool
    marked_at: datetime | None = None
    changed_at: datetime | None = None  # the delivery's created_at: when Calendly made the change


def notice_from_invitee(invitee, event=None, marked=None):
    """A ``NoShowNotice`` from an Invitee resource (``marked`` defaults to its ``no_show`` field)."""
    if not isinstance(invitee, dict) or not invitee.get("uri"):
        raise BookingError("invitee has no uri")
    event = event if isinstance(event, dict) else invitee.get("scheduled_event")
    event = event if isinstance(event, dict) else {}
    no_show = invitee.get("no_show") if isinstance(invitee.get("no_show"), dict) else None
    if marked is None:
        marked = no_show is not None
    marked_at = None
    if marked:
        try:
            marked_at = parse_iso(no_show["created_at"]) if no_show and no_show.get("created_at") else None
        except (TypeError, ValueError):
            marked_at = None
    return NoShowNotice(
        invitee_uri=invitee["uri"],
        event_uri=str(event.get("uri") or invitee.get("event") or ""),
        event_type_uri=str(event.get("event_type") or ""),
        email=str(invitee.get("email") or ""),
        marked=bool(marked),
        marked_at=marked_at,
    )


def parse_no_show(envelope):
    """``NoShowNotice`` from an ``invitee_no_show.*`` delivery: the invitee with its scheduled event (§7)."""
    name = envelope.get("event") if isinstance(envelope, dict) else None
    if name not in (NO_SHOW_CREATED, NO_SHOW_DELETED):
        raise BookingError(f"not a no-show delivery: {name}")
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise BookingError("webhook body has no payload")
    notice = notice_from_invitee(payload, marked=name == NO_SHOW_CREATED)
    return NoShowNotice(**{**notice.__dict__, "changed_at": _envelope_time(envelope)})


def _envelope_time(envelope):
    try:
        return parse_iso(envelope.get("created_at")) if envelope.get("created_at") else None
    except (TypeError, ValueError):
        return None


def superseded(notice, appointment):
    """True when a later no-show change than ``notice`` was already received or applied for its invitee."""
    if notice.changed_at is None:
        return False
    if not notice.marked and appointment.no_show_at and appointment.no_show_at > notice.changed_at:
        return True
    opposite = NO_SHOW_DELETED if notice.marked else NO_SHOW_CREATED
    later = WebhookDelivery.select(WebhookDelivery.body).where(
        (WebhookDelivery.invitee_uri == notice.invitee_uri) & (WebhookDelivery.event == opposite)
        & WebhookDelivery.state.not_in((DeliveryState.REJECTED, DeliveryState.DUPLICATE)))
    for row in later:
        try:
            at = _envelope_time(json.loads(row.body))
        except (ValueError, AttributeError):
            continue
        if at is not None and at > notice.changed_at:
            return True
    return False


def apply_no_show(connection, notice, via, delivery=None):
    """Record (or clear) the no-show on the subaccount's appointment of the invitee; returns ``Applied``.

    A listing (``via`` backfill or reconcile) records a decision only when it changed something.
    """
    gate = windows.status_gate(connection.status)
    if gate is not None:
        return record_decision(connection, notice, via, delivery, Outcome.SKIPPED, gate.reason, gate.rule,
                               gate.detail)
    # Inside a caller's transaction (a batch of deliveries) the caller's savepoint undoes a failure.
    with nullcontext() if db.in_transaction() else write_transaction(), event_origin(connection, via, delivery):
        return _apply_no_show(connection, notice, via, delivery)


def _apply_no_show(connection, notice, via, delivery):
    appointment = find_appointment(connection.subaccount_id, notice.invitee_uri)
    what = "marked a no-show" if notice.marked else "no longer marked a no-show"
    if appointment is None:
        if via != WEBHOOK:
            return None
        return record_decision(connection, notice, via, delivery, Outcome.UNCHANGED, None, RULE,
                               f"No-show: the invitee was {what} in Calendly; no appointment here for this booking")
    if superseded(notice, appointment):
        return record_decision(connection, notice, via, delivery, Outcome.UNCHANGED, None, RULE,
                               f"No-show: the invitee was {what} in Calendly, but a later change was already "
                               "received; this older one is not applied", appointment)
    if notice.marked:
        at = notice.marked_at or notice.changed_at or utcnow()
        changed = Appointment.update(no_show_at=at).where(
            (Appointment.id == appointment.id) & Appointment.no_show_at.is_null()).execute()
        appointment.no_show_at = at if changed else appointment.no_show_at
        # A cancelled or rescheduled booking keeps that status; the mark still shows beside it.
        moved = change_status(appointment, AppointmentStatus.NO_SHOW, only_from=(AppointmentStatus.BOOKED,))
        detail = f"No-show: marked in Calendly at {to_iso(at)}; the appointment shows No-show"
    else:
        changed = Appointment.update(no_show_at=None).where(
            (Appointment.id == appointment.id) & Appointment.no_show_at.is_null(False)).execute()
        appointment.no_show_at = None
        moved = change_status(appointment, AppointmentStatus.BOOKED, only_from=(AppointmentStatus.NO_SHOW,))
        detail = "No-show: undone in Calendly; the appointment no longer shows No-show" + (
            " and is Booked again" if moved else "")
    if not (changed or moved):
        if via != WEBHOOK:
            return None
        return record_decision(connection, notice, via, delivery, Outcome.UNCHANGED, None, RULE,
                               f"No-show: already {what}; nothing changed", appointment)
    return record_decision(connection, notice, via, delivery, Outcome.UPDATED, None, RULE, detail, appointment)
