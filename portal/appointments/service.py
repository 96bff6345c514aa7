"""Changing appointments: only those created in the portal (SPEC E3, E6).

Calendly appointments are read-only (E3): every change is refused with
``ManagedInCalendly``. Portal appointments never reach Calendly (E6): nothing
here talks to it.
"""
from portal import live
from portal.extensions import db
from portal.models import Appointment, Origin, Source
from portal.models.audit import record
from portal.sync import events
from portal.sync.apply import upsert_contact_recorded
from portal.sync.ownership import refresh_assigned_user
from portal.sync.status import PORTAL_SETTABLE, change_status
from portal.timeutil import utcnow

MANAGED_IN_CALENDLY = ("This appointment is managed in Calendly and can't be changed here. "
                       "Reschedule or cancel it in Calendly; the change shows here within seconds.")


class ManagedInCalendly(Exception):
    """E3: an imported appointment cannot be changed in the portal."""

    def __init__(self):
        super().__init__(MANAGED_IN_CALENDLY)


def ensure_editable(appointment):
    if appointment.source != Source.PORTAL:
        raise ManagedInCalendly()


def _apply(appointment, subaccount, data):
    appointment.title = data["title"].strip()
    appointment.start = data["start"]
    appointment.end = data["end"]
    appointment.notes = (data.get("notes") or "").strip()
    email = (data.get("contact_email") or "").strip()
    appointment.contact = upsert_contact_recorded(subaccount.id, email, data.get("contact_name") or "") if email else None


def create_appointment(subaccount, user, data):
    """A portal appointment owned by its creator; the contact is matched by email (E2)."""
    with db.atomic(), events.origin_of(Origin.PERSON, f"user {user.id}"):
        appointment = Appointment(subaccount=subaccount, source=Source.PORTAL, owner=user,
                                  owner_reason=f"Created in the portal by {user.display_name}",
                                  booked_at=utcnow(), calendar_name="")
        _apply(appointment, subaccount, data)
        appointment.save()
        events.appointment_booked(appointment)
        if appointment.contact:
            refresh_assigned_user(appointment.contact)
    return appointment


class StatusNotAllowed(ValueError):
    pass


def set_status(appointment, to, user):
    """A user sets a portal appointment's status (Booked, Confirmed, Showed, No-show, Cancelled); audited."""
    ensure_editable(appointment)
    if to not in PORTAL_SETTABLE:
        raise StatusNotAllowed("Choose one of the statuses offered.")
    with db.atomic(), events.origin_of(Origin.PERSON, f"user {user.id}"):
        changed = change_status(appointment, to)
        if changed:
            record("appointment.status", actor=user.id, subaccount=appointment.subaccount_id,
                   target=appointment.title, detail=f"status {to}")
    return changed


def update_appointment(appointment, data, user=None):
    ensure_editable(appointment)
    with db.atomic(), events.origin_of(Origin.PERSON, f"user {user.id}" if user else ""):
        previous_contact = appointment.contact
        _apply(appointment, appointment.subaccount, data)
        appointment.save()
        live.touch(appointment.subaccount_id)
        if previous_contact and previous_contact.id != appointment.contact_id:
            refresh_assigned_user(previous_contact)
        if appointment.contact:
            refresh_assigned_user(appointment.contact)
    return appointment


def delete_appointment(appointment, user=None):
    """Deletes a portal appointment; the contact stays, its assigned user is recomputed (O3)."""
    ensure_editable(appointment)
    with db.atomic(), events.origin_of(Origin.PERSON, f"user {user.id}" if user else ""):
        contact = appointment.contact
        appointment.delete_instance()
        live.touch(appointment.subaccount_id)
        if contact:
            refresh_assigned_user(contact)
