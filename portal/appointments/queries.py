"""Reading appointments for the list, the calendar views and the detail page.

All queries are scoped to one subaccount (T2) and seek through the
(subaccount, start, id) index: no OFFSET and no COUNT over the table.
"""
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import JOIN, fn

from portal.appointment_listing import IN_PROGRESS_LOOKBACK, with_people
from portal.extensions import db
from portal.keyset import paginate
from portal.models import (
    Appointment,
    AppointmentGuest,
    AppointmentSource,
    CalendarSelection,
    CalendlyConnection,
    Contact,
    Membership,
    Source,
    User,
)

PER_PAGE = 25
WHEN_FILTERS = {"upcoming": "Upcoming", "past": "Past", "all": "All"}
PORTAL_CALENDAR = "portal"
WEEK_LIMIT = 1000
MONTH_LIMIT = 5000


def calendar_options(subaccount):
    """The calendars a subaccount's appointments can come from, for the filter.

    Taken from the selection history (every calendar ever selected by any of
    the subaccount's connections) rather than a DISTINCT over appointments.
    """
    rows = (
        CalendarSelection.select(CalendarSelection.event_type_uri, CalendarSelection.name)
        .join(CalendlyConnection)
        .where(CalendlyConnection.subaccount == subaccount)
        .order_by(CalendarSelection.name, CalendarSelection.id.desc())
    )
    seen, options = set(), []
    for row in rows:
        if row.event_type_uri not in seen:
            seen.add(row.event_type_uri)
            options.append((row.event_type_uri, row.name))
    options.append((PORTAL_CALENDAR, "Created in the portal"))
    return options


def appointment_page(subaccount, *, when="upcoming", calendar=None, after=None, before=None, now, per_page=PER_PAGE):
    """One page of the appointments list: upcoming soonest first, past and all latest first."""
    query = with_people().where(Appointment.subaccount == subaccount)
    if calendar == PORTAL_CALENDAR:
        query = query.where(Appointment.source == Source.PORTAL)
    elif calendar:
        query = query.where(Appointment.event_type_uri == calendar)
    if when == "upcoming":
        query = query.where((Appointment.start >= now - IN_PROGRESS_LOOKBACK) & (Appointment.end > now))
    elif when == "past":
        query = query.where((Appointment.start < now) & (Appointment.end <= now))
    return paginate(query, Appointment.start, Appointment.id, per_page=per_page,
                    descending=(when != "upcoming"), after=after, before=before)


def has_any(subaccount):
    """Whether the subaccount has any appointment at all (LIMIT 1, for the empty state)."""
    return Appointment.select().where(Appointment.subaccount == subaccount).exists()


def fingerprint(page, *extra):
    """A short digest of what a page shows, so a poll can answer "unchanged" cheaply."""
    parts = [(a.id, a.status, a.rescheduled_to_id, a.title, a.start, a.end, a.contact_id, a.owner_id,
              a.contact.display_name if a.contact else None) for a in page.rows]
    parts.append((page.next_cursor is not None, page.prev_cursor is not None, *extra))
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def week_start(day):
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def owner_options(subaccount):
    """``[(user id as text, name)]``: the subaccount's members, for the owner filter."""
    rows = (User.select(User.id, User.name, User.email).join(Membership)
            .where(Membership.subaccount == subaccount).order_by(User.name, User.email))
    return [(str(u.id), u.display_name) for u in rows]


@dataclass(slots=True)
class CalendarItem:
    """What the calendar shows of an appointment: read as plain rows, not models (the week holds ~500)."""
    id: int
    title: str
    start: datetime
    end: datetime
    status: str
    source: str
    contact_name: str | None = None


def in_range(subaccount, begin, end, *, calendar=None, owner=None, limit=WEEK_LIMIT, people=True):
    """``CalendarItem``s starting in [begin, end) (naive UTC), soonest first, and whether more were left out.

    ``calendar`` is an event type URI or ``portal``; ``owner`` a user id. With
    ``people`` the contact's name is read too (one LEFT JOIN).
    """
    columns = [Appointment.id, Appointment.title, Appointment.start, Appointment.end, Appointment.status,
               Appointment.source]
    query = Appointment.select(*columns)
    if people:
        query = (Appointment.select(*columns, fn.COALESCE(fn.NULLIF(Contact.name, ""), Contact.email))
                 .join(Contact, JOIN.LEFT_OUTER, on=(Appointment.contact == Contact.id)))
    query = query.where((Appointment.subaccount == subaccount) & (Appointment.start >= begin)
                        & (Appointment.start < end))
    if calendar == PORTAL_CALENDAR:
        query = query.where(Appointment.source == Source.PORTAL)
    elif calendar:
        query = query.where(Appointment.event_type_uri == calendar)
    if owner:
        query = query.where(Appointment.owner == owner)
    # The driver's rows as they come: only the two times need reading (text on SQLite); Peewee's result
    # wrapper would convert all seven columns of ~500 rows (a week) or ~2,000 (a month).
    moment = Appointment.start.python_value
    cursor = db.execute(query.order_by(Appointment.start, Appointment.id).limit(limit + 1))
    rows = [CalendarItem(i, title, moment(start), moment(finish), status, source, *name)
            for i, title, start, finish, status, source, *name in cursor]
    return rows[:limit], len(rows) > limit


def guests(appointment):
    """The extra guests of a booking, as contacts (E2)."""
    return list(
        Contact.select()
        .join(AppointmentGuest)
        .where(AppointmentGuest.appointment == appointment)
        .order_by(Contact.email_normalized)
    )


def sources(appointment):
    """The Calendly connections that delivered an appointment, with their owners."""
    return list(
        AppointmentSource.select(AppointmentSource, CalendlyConnection, User)
        .join(CalendlyConnection)
        .join(User)
        .where(AppointmentSource.appointment == appointment)
        .order_by(AppointmentSource.id)
    )


def rescheduled_from(appointment):
    return list(Appointment.select().where(Appointment.rescheduled_to == appointment).order_by(Appointment.id))
