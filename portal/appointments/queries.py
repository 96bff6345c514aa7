"""Reading appointments for the list, the week view and the detail page.

All queries are scoped to one subaccount (T2) and seek through the
(subaccount, start, id) index: no OFFSET and no COUNT over the table.
"""
import hashlib
from datetime import datetime, time, timedelta

from portal.appointment_listing import IN_PROGRESS_LOOKBACK, with_people
from portal.keyset import paginate
from portal.models import (
    Appointment,
    AppointmentGuest,
    AppointmentSource,
    CalendarSelection,
    CalendlyConnection,
    Contact,
    Source,
    User,
)

PER_PAGE = 25
WHEN_FILTERS = {"upcoming": "Upcoming", "past": "Past", "all": "All"}
PORTAL_CALENDAR = "portal"
WEEK_LIMIT = 1000


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


def week(subaccount, monday):
    """The appointments of the week starting ``monday``, as 7 (date, [appointments]) pairs."""
    begin = datetime.combine(monday, time.min)
    rows = list(
        with_people()
        .where((Appointment.subaccount == subaccount) & (Appointment.start >= begin)
               & (Appointment.start < begin + timedelta(days=7)))
        .order_by(Appointment.start, Appointment.id)
        .limit(WEEK_LIMIT + 1)
    )
    truncated = len(rows) > WEEK_LIMIT
    days = [(monday + timedelta(days=i), []) for i in range(7)]
    for a in rows[:WEEK_LIMIT]:
        days[(a.start.date() - monday).days][1].append(a)
    return days, truncated


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
