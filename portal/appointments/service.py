"""Changing appointments: only those created in the portal (SPEC E3, E6).

Calendly appointments are read-only (E3): every change is refused with
``ManagedInCalendly``. Portal appointments never reach Calendly (E6): nothing
here talks to it.
"""
from portal.extensions import db
from portal.models import Appointment, Source
from portal.sync.apply import upsert_contact
from portal.sync.ownership import refresh_assigned_user
from portal.timeutil import utcnow

MANAGED_IN_CALENDLY = "This appointment is managed in Calendly and can't be changed here."


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
    appointment.contact = upsert_contact(subaccount.id, email, data.get("contact_name") or "") if email else None


def create_appointment(subaccount, user, data):
    """A portal appointment owned by its creator; the contact is matched by email (E2)."""
    with db.atomic():
        appointment = Appointment(subaccount=subaccount, source=Source.PORTAL, owner=user,
                                  owner_reason=f"Created in the portal by {user.display_name}",
                                  booked_at=utcnow(), calendar_name="")
        _apply(appointment, subaccount, data)
        appointment.save()
        if appointment.contact:
            refresh_assigned_user(appointment.contact)
    return appointment


def update_appointment(appointment, data):
    ensure_editable(appointment)
    with db.atomic():
        previous_contact = appointment.contact
        _apply(appointment, appointment.subaccount, data)
        appointment.save()
        if previous_contact and previous_contact.id != appointment.contact_id:
            refresh_assigned_user(previous_contact)
        if appointment.contact:
            refresh_assigned_user(appointment.contact)
    return appointment


def delete_appointment(appointment):
    """Deletes a portal appointment; the contact stays, its assigned user is recomputed (O3)."""
    ensure_editable(appointment)
    with db.atomic():
        contact = appointment.contact
        appointment.delete_instance()
        if contact:
            refresh_assigned_user(contact)
