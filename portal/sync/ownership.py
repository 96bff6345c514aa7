"""Who owns an appointment (SPEC O1, O2) and who a contact is assigned to (O3)."""
import random

from peewee import fn

from portal.models import (
    Appointment,
    AppointmentGuest,
    CalendarSelection,
    CalendlyConnection,
    Contact,
    Status,
    User,
)
from portal.sync import events

# O2's random source: a function picking one item of a sequence. Tests fix it,
# e.g. ``ownership.choose = random.Random(7).choice``.
choose = random.Random().choice


def members_selecting(subaccount_id, event_type_uri):
    """Users of the subaccount whose syncing connection has the calendar selected now (O2)."""
    return list(
        User.select()
        .join(CalendlyConnection, on=(CalendlyConnection.user == User.id))
        .join(CalendarSelection, on=(CalendarSelection.connection == CalendlyConnection.id))
        .where(
            (CalendlyConnection.subaccount == subaccount_id)
            & CalendlyConnection.status.in_(Status.SYNCING)
            & (CalendarSelection.event_type_uri == event_type_uri)
            & CalendarSelection.selected_until.is_null()
        )
        .distinct()
        .order_by(User.id)
    )


def owner_for(connection, shared, event_type_uri, chooser=None):
    """``(user, reason)``: the owner of a newly imported appointment.

    O1: a personal calendar's booking belongs to the connection's user.
    O2: a shared calendar's booking goes to a member chosen at random among
    those with the calendar selected; the caller stores the choice for good.
    """
    if not shared:
        user = connection.user
        return user, f"O1: personal calendar of {user.display_name}"
    members = members_selecting(connection.subaccount_id, event_type_uri)
    if not members:
        # The calendar was deselected (Keep) after this booking was made.
        user = connection.user
        return user, f"O2: round robin, no member has it selected now; owner is {user.display_name}"
    user = (chooser or choose)(members)
    noun = "member" if len(members) == 1 else "members"
    return user, f"O2: round robin, chosen among {len(members)} {noun}"


def latest_appointment(contact, *columns):
    """The contact's latest appointment (O3): most recently booked, ties to the later start.

    A contact's appointments are those it booked and those it is a guest on;
    portal-made appointments count by their creation time. ``columns`` narrows
    what is read (the ordering columns are always read).
    """
    # Two indexed lookups rather than one query with OR: PostgreSQL answers the OR with a
    # sequential scan of every appointment, on every import.
    order = (fn.COALESCE(Appointment.booked_at, Appointment.created_at).desc(), Appointment.start.desc(),
             Appointment.id.desc())
    fields = (*columns, Appointment.id, Appointment.booked_at, Appointment.created_at, Appointment.start) if columns else ()
    booked = Appointment.select(*fields).where(Appointment.contact == contact).order_by(*order).first()
    as_guest = (Appointment.select(*fields).join(AppointmentGuest).where(AppointmentGuest.contact == contact)
                .order_by(*order).first())
    found = [a for a in (booked, as_guest) if a is not None]
    return max(found, key=lambda a: (a.booked_at or a.created_at, a.start, a.id)) if found else None


def assigned_user_for(contact):
    """O3: the id of the owner of the contact's latest appointment, or None."""
    latest = latest_appointment(contact, Appointment.owner)
    return latest.owner_id if latest is not None else None


def refresh_assigned_user(contact):
    """Recompute and store ``contact.assigned_user`` (O3); returns the user's id or None."""
    user_id = assigned_user_for(contact)
    set_assigned_user(contact, user_id)
    return user_id


def set_assigned_user(contact, user_id):
    """Store ``user_id`` as the contact's assigned user unless it already is."""
    if contact.assigned_user_id == user_id:
        return
    # Read again: ``contact`` may be stale, and the event names what it really was.
    before = Contact.select(Contact.assigned_user).where(Contact.id == contact.id).scalar()
    contact.assigned_user = user_id
    if before != user_id:
        changed = Contact.update(assigned_user=user_id).where(
            (Contact.id == contact.id) & ((Contact.assigned_user == before) if before is not None
                                          else Contact.assigned_user.is_null())).execute()
        if changed:
            events.assigned_user_changed(contact, before, user_id)


def refresh_assigned_users(contact_ids):
    """O3 for many contacts, e.g. after deleting their appointments (D5)."""
    for contact in Contact.select().where(Contact.id.in_(list(contact_ids))):
        refresh_assigned_user(contact)


def is_shared_calendar(subaccount_id, event_type_uri):
    """Whether any connection of the subaccount selected this calendar as a shared one (O2)."""
    return event_type_uri is not None and CalendarSelection.select().join(CalendlyConnection).where(
        (CalendlyConnection.subaccount == subaccount_id) & (CalendarSelection.event_type_uri == event_type_uri)
        & CalendarSelection.shared
    ).exists()


def successor_for(appointment, leaving_user_id, picked, chooser=None):
    """``(user, how)``: who takes over an appointment whose owner leaves the subaccount.

    A shared calendar's appointment is drawn again at random (O2) among the
    members who still have that calendar selected; a personal one, or a
    shared one nobody else has selected, goes to ``picked``.
    """
    if is_shared_calendar(appointment.subaccount_id, appointment.event_type_uri):
        members = [u for u in members_selecting(appointment.subaccount_id, appointment.event_type_uri)
                   if u.id != leaving_user_id]
        if members:
            noun = "member" if len(members) == 1 else "members"
            return (chooser or choose)(members), f"round robin, drawn again among {len(members)} {noun}"
        return picked, "round robin, no other member has it selected"
    return picked, "moved to the member chosen by the admin"
