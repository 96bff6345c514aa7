"""Creating and matching contacts by hand (SPEC E2).

Matching by email and the assigned user (O3) are the sync's rules
(``portal.sync.apply.upsert_contact``, ``portal.sync.ownership``); this
module only adds what a person typing a contact needs: validation and a
refusal, rather than a silent merge, when the email is already taken.
"""
from peewee import IntegrityError

from portal.extensions import db
from portal.models import Contact, Origin, normalize_email
from portal.sync import events

class DuplicateEmail(Exception):
    """Another contact of the subaccount already has this email (E2)."""

    def __init__(self, contact):
        super().__init__(f"A contact with the email {contact.email} already exists: {contact.display_name}.")
        self.contact = contact


def find_by_email(subaccount, email):
    return Contact.get_or_none(
        (Contact.subaccount == subaccount) & (Contact.email_normalized == normalize_email(email))
    )


def create_contact(subaccount, name, email, user=None):
    """A new contact; refuses an email already used in the subaccount (E2 matching).

    Its "contact created" event names ``user``, the person who typed it, as the cause.
    """
    existing = find_by_email(subaccount, email)
    if existing is not None:
        raise DuplicateEmail(existing)
    try:
        with db.atomic(), events.origin_of(Origin.PERSON, f"user {user.id}" if user is not None else ""):
            contact = Contact.create(subaccount=subaccount, name=(name or "").strip(), email=email.strip(),
                                     email_normalized=normalize_email(email))
            events.contact_created(contact)
            return contact
    except IntegrityError:  # created concurrently since the check above
        raise DuplicateEmail(find_by_email(subaccount, email)) from None
