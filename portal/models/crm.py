"""Contacts and appointments: what a booking becomes (SPEC E, O)."""
from enum import StrEnum

from peewee import (
    CharField,
    DateTimeField,
    ForeignKeyField,
    TextField,
)

from portal.models.base import BaseModel
from portal.models.calendly import CalendlyConnection
from portal.models.tenancy import Subaccount, User
from portal.timeutil import utcnow


def normalize_email(email):
    """SPEC E2: contacts are matched by email, trimmed and case-insensitive."""
    return (email or "").strip().lower()


class Contact(BaseModel):
    subaccount = ForeignKeyField(Subaccount, backref="contacts", on_delete="CASCADE")
    email = CharField()
    email_normalized = CharField()
    name = CharField(default="")
    # SPEC O3: the owner of the contact's latest appointment.
    assigned_user = ForeignKeyField(User, null=True, backref="assigned_contacts", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("subaccount", "email_normalized"), True),
            (("subaccount", "name", "id"), False),
        )

    @property
    def display_name(self):
        return self.name or self.email


class Source(StrEnum):
    """Where an appointment came from."""

    CALENDLY = "calendly"
    PORTAL = "portal"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"  # E4, when the subaccount reflects cancellations
    RESCHEDULED = "rescheduled"  # E4: replaced by another appointment
    NO_SHOW = "no_show"  # Calendly's invitee_no_show.created
    CONFIRMED = "confirmed"  # portal-made appointments only, set by a user
    SHOWED = "showed"

    @property
    def label(self):
        return self.value.replace("_", "-").capitalize()


class Appointment(BaseModel):
    """A booking in the portal. Calendly ones are read-only (E3)."""

    subaccount = ForeignKeyField(Subaccount, backref="appointments", on_delete="CASCADE")
    source = CharField(default=Source.CALENDLY)
    title = CharField()
    start = DateTimeField()
    end = DateTimeField()
    contact = ForeignKeyField(Contact, null=True, backref="appointments", on_delete="SET NULL")
    owner = ForeignKeyField(User, null=True, backref="owned_appointments", on_delete="SET NULL")
    owner_reason = CharField(default="")  # e.g. "O1: personal calendar of ..."
    status = CharField(default=AppointmentStatus.BOOKED)
    notes = TextField(default="")
    # Calendly identity (W6: unique per subaccount on the invitee URI).
    invitee_uri = CharField(null=True)
    event_uri = CharField(null=True, index=True)
    event_type_uri = CharField(null=True)
    calendar_name = CharField(default="")
    booked_at = DateTimeField(null=True)  # Calendly creation time (O3)
    cancelled_at = DateTimeField(null=True)
    rescheduled_to = ForeignKeyField("self", null=True, backref="rescheduled_from", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    # Calendly's invitee no-show (invitee_no_show.created); cleared by .deleted. Issue 17.
    no_show_at = DateTimeField(null=True)
    # The meeting as Calendly describes it (issue 16, portal.sync.meeting): no phone number (E2).
    location_kind = CharField(default="")
    location_text = TextField(default="")
    join_url = TextField(default="")
    calendly_hosts = TextField(default="")  # JSON [{"name", "email"}] of event_memberships

    class Meta:
        indexes = (
            (("subaccount", "invitee_uri"), True),
            (("subaccount", "start", "id"), False),
            (("subaccount", "event_type_uri"), False),
            (("contact", "booked_at"), False),
        )

    @property
    def is_managed_in_calendly(self):
        return self.source == Source.CALENDLY


class AppointmentGuest(BaseModel):
    """Additional guests of a booking, each as an email-only contact (E2)."""

    appointment = ForeignKeyField(Appointment, backref="guests", on_delete="CASCADE")
    contact = ForeignKeyField(Contact, backref="guest_of", on_delete="CASCADE")

    class Meta:
        indexes = ((("appointment", "contact"), True),)


class AppointmentSource(BaseModel):
    """Which connection delivered an appointment; D4 deletion votes live here."""

    appointment = ForeignKeyField(Appointment, backref="sources", on_delete="CASCADE")
    connection = ForeignKeyField(CalendlyConnection, backref="appointment_sources", on_delete="CASCADE")
    deletion_vote = CharField(null=True)  # None | "keep" | "delete"
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("appointment", "connection"), True),)
