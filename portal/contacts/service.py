"""Creating and matching contacts by hand, and the assigned user (SPEC E2, O3)."""
import re

from peewee import IntegrityError

from portal.extensions import db
from portal.models import Appointment, Contact, normalize_email

# Deliberately loose: a real address has one @ and a dot in its domain.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DuplicateEmail(Exception):
    """Another contact of the subaccount already has this email (E2)."""

    def __init__(self, contact):
        super().__init__(f"A contact with the email {contact.email} already exists: {contact.display_name}.")
        self.contact = contact


def is_valid_email(email):
    return bool(EMAIL_RE.match((email or "").strip()))


def find_by_email(subaccount, email):
    return Contact.get_or_none(
        (Contact.subaccount == subaccount) & (Contact.email_normalized == normalize_email(email))
    )


def create_contact(subaccount, name, email):
    """A new contact; refuses an email already used in the subaccount (E2 matching)."""
    existing = find_by_email(subaccount, email)
    if existing is not None:
        raise DuplicateEmail(existing)
    try:
        with db.atomic():
            return Contact.create(subaccount=subaccount, name=(name or "").strip(), email=email.strip(),
                                  email_normalized=normalize_email(email))
    except IntegrityError:  # created concurrently since the check above
        raise DuplicateEmail(find_by_email(subaccount, email)) from None


def find_or_create(subaccount, email, name=""):
    """The subaccount's contact with this email, created if missing (E2).

    An existing contact keeps its name; a nameless one takes the name given.
    """
    contact = find_by_email(subaccount, email)
    if contact is None:
        try:
            return create_contact(subaccount, name, email)
        except DuplicateEmail as dup:
            contact = dup.contact
    if name and not contact.name:
        contact.name = name.strip()
        contact.save(only=[Contact.name])
    return contact


def refresh_assigned_user(contact):
    """O3: the assigned user is the owner of the contact's latest appointment.

    Latest = booked most recently (``booked_at``), ties to the later start;
    a contact without appointments keeps no assigned user.
    """
    if contact is None:
        return None
    latest = (
        Appointment.select(Appointment.owner)
        .where(Appointment.contact == contact)
        .order_by(Appointment.booked_at.desc(nulls="LAST"), Appointment.start.desc(), Appointment.id.desc())
        .first()
    )
    owner_id = latest.owner_id if latest else None
    if contact.assigned_user_id != owner_id:
        contact.assigned_user = owner_id
        contact.save(only=[Contact.assigned_user])
    return owner_id
