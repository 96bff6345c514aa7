"""Reading contacts: the searchable list and a contact's appointments (SPEC E2, O3)."""
from peewee import JOIN, fn

from portal.appointment_listing import with_people
from portal.keyset import paginate
from portal.models import Appointment, AppointmentGuest, Contact, ContactTag, Enrolment, FollowUpTask, User, Workflow

PER_PAGE = 25
APPOINTMENTS_SHOWN = 50


# The search answer counts its matches up to here and then says "more than" (a count of a large
# subaccount's every match on each keystroke would cost what keyset paging saves).
FOUND_CAP = 1000


def _matching(query, q, tag):
    q = (q or "").strip()
    if q:
        # contains(): case-insensitive, and "%" or "_" typed by the user match themselves.
        query = query.where(Contact.name.contains(q) | Contact.email_normalized.contains(q.lower()))
    if tag:
        query = query.where(fn.EXISTS(ContactTag.select(ContactTag.id).where(
            (ContactTag.contact == Contact.id) & (ContactTag.tag == tag.strip().lower()))))
    return query


def contact_page(subaccount, *, q="", tag="", after=None, before=None, per_page=PER_PAGE):
    """One page of contacts by (name, id), seeking through the (subaccount, name, id) index."""
    assigned = User.alias("assigned")
    query = _matching(
        Contact.select(Contact, assigned)
        .join(assigned, JOIN.LEFT_OUTER, on=(Contact.assigned_user == assigned.id), attr="assigned_user")
        .where(Contact.subaccount == subaccount), q, tag)
    page = paginate(query, Contact.name, Contact.id, per_page=per_page, after=after, before=before)
    page.extra["counts"] = appointment_counts([c.id for c in page.rows])
    page.extra["tags"] = tags_of([c.id for c in page.rows])
    return page


def found_words(subaccount, *, q="", tag=""):
    """How many contacts match, in words for the page's announcer: "12 contacts found"."""
    query = _matching(Contact.select(Contact.id).where(Contact.subaccount == subaccount), q, tag)
    n = query.limit(FOUND_CAP + 1).count()
    if n > FOUND_CAP:
        return f"More than {FOUND_CAP:,} contacts found"
    if n == 0:
        return "No contacts found"
    return f"{n:,} contact found" if n == 1 else f"{n:,} contacts found"


def tags_of(contact_ids):
    """{contact id: [tags]} (workflows' Add tag steps)."""
    tags = {}
    for row in ContactTag.select().where(ContactTag.contact.in_(list(contact_ids))).order_by(ContactTag.tag):
        tags.setdefault(row.contact_id, []).append(row.tag)
    return tags


def tasks_of(contact):
    return list(FollowUpTask.select().where(FollowUpTask.contact == contact)
                .order_by(FollowUpTask.done_at.is_null(False), FollowUpTask.due_at, FollowUpTask.id).limit(50))


def enrolments_of(contact):
    """The workflows the contact went through, latest first."""
    return list(Enrolment.select(Enrolment, Workflow).join(Workflow).where(
        (Enrolment.contact == contact) & (Enrolment.test_run == False))  # noqa: E712
        .order_by(Enrolment.id.desc()).limit(50))


def appointment_counts(contact_ids):
    """{contact id: number of appointments as booker or guest} for one page of contacts."""
    counts = dict.fromkeys(contact_ids, 0)
    if not contact_ids:
        return counts
    booked = (Appointment.select(Appointment.contact, fn.COUNT(Appointment.id).alias("n"))
              .where(Appointment.contact.in_(contact_ids)).group_by(Appointment.contact).tuples())
    guest = (AppointmentGuest.select(AppointmentGuest.contact, fn.COUNT(AppointmentGuest.id).alias("n"))
             .where(AppointmentGuest.contact.in_(contact_ids)).group_by(AppointmentGuest.contact).tuples())
    for contact_id, n in list(booked) + list(guest):
        counts[contact_id] += n
    return counts


def booked_appointments(contact, limit=APPOINTMENTS_SHOWN):
    """The contact's appointments as the booker, latest start first."""
    return list(with_people().where(Appointment.contact == contact)
                .order_by(Appointment.start.desc(), Appointment.id.desc()).limit(limit))


def guest_appointments(contact, limit=APPOINTMENTS_SHOWN):
    """Appointments the contact was an extra guest of (E2)."""
    return list(with_people().join_from(Appointment, AppointmentGuest)
                .where(AppointmentGuest.contact == contact)
                .order_by(Appointment.start.desc(), Appointment.id.desc()).limit(limit))
