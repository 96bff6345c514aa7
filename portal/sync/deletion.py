"""Removing calendars and deleting what was synced from them (SPEC D2-D5, W4).

A removal closes the calendar's open selection period with the user's answer,
Keep or Delete; that answer is also the user's vote on the calendar's shared
appointments. An appointment of a calendar is deleted only when every member
of the subaccount who connected Calendly with that calendar has, in their
latest period for it, answered Delete (D4) — for a personal calendar that is
the one member. Contacts are never deleted (D5); assigned users are
recomputed for the contacts that lost appointments (O3).

``purge_batch`` deletes one batch, re-checking consent inside its
transaction; running the batches in the background (D5) is
``portal.pipeline.purge``'s.
"""
from collections import namedtuple

from portal import live
from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentGuest,
    AppointmentSource,
    CalendarSelection,
    CalendlyConnection,
    Source,
)
from portal.sync.apply import write_transaction
from portal.sync.ownership import refresh_assigned_users
from portal.timeutil import utcnow

KEEP = "keep"
DELETE = "delete"

# ``members``: every user id who connected the calendar; ``waiting_on``: those who have not chosen Delete;
# ``kept_by``: those of them whose latest answer was Keep (the rest still have it selected).
Consensus = namedtuple("Consensus", "agreed waiting_on members kept_by", defaults=((),))


def close_selection(connection, event_type_uri, choice, at=None):
    """Close the open period of ``event_type_uri`` with ``choice`` (W4, D2).

    Returns the number of appointments of this calendar whose deletion vote
    this connection's answer sets.
    """
    if choice not in (KEEP, DELETE):
        raise ValueError(f"choice must be keep or delete, not {choice!r}")
    at = at or utcnow()
    with db.atomic():
        closed = (
            CalendarSelection.update(selected_until=at, ended_with=choice)
            .where(
                (CalendarSelection.connection == connection)
                & (CalendarSelection.event_type_uri == event_type_uri)
                & CalendarSelection.selected_until.is_null()
            )
            .execute()
        )
        voted = (
            AppointmentSource.update(deletion_vote=choice)
            .where(
                (AppointmentSource.connection == connection)
                & AppointmentSource.appointment.in_(
                    Appointment.select(Appointment.id).where(
                        (Appointment.subaccount == connection.subaccount_id)
                        & (Appointment.event_type_uri == event_type_uri)
                    )
                )
            )
            .execute()
        )
    return closed, voted


def consensus(subaccount_id, event_type_uri):
    """Whether every member who connected this calendar has chosen Delete (D4).

    A member is a portal user of the subaccount with a connection (live or
    past) that ever selected the calendar; their answer is that of their
    latest period for it. An open period, or a latest period ended with Keep,
    means the member has not agreed.
    """
    latest = {}
    periods = (
        CalendarSelection.select(CalendarSelection, CalendlyConnection)
        .join(CalendlyConnection)
        .where(
            (CalendlyConnection.subaccount == subaccount_id)
            & (CalendarSelection.event_type_uri == event_type_uri)
        )
        .order_by(CalendarSelection.selected_from, CalendarSelection.id)
    )
    for period in periods:
        latest[period.connection.user_id] = period
    waiting_on = [user_id for user_id, p in latest.items() if p.ended_with != DELETE]
    kept_by = [user_id for user_id, p in latest.items() if p.ended_with == KEEP]
    return Consensus(agreed=bool(latest) and not waiting_on, waiting_on=waiting_on, members=list(latest),
                     kept_by=kept_by)


def calendar_appointments(subaccount_id, event_type_uri):
    return Appointment.select().where(
        (Appointment.subaccount == subaccount_id)
        & (Appointment.event_type_uri == event_type_uri)
        & (Appointment.source == Source.CALENDLY)
    )


def count_for_calendar(subaccount_id, event_type_uri):
    return calendar_appointments(subaccount_id, event_type_uri).count()


def purge_batch(subaccount_id, event_type_uri, batch_size):
    """Delete up to ``batch_size`` appointments of the calendar; returns how many.

    Re-checks consensus inside the transaction so a member reselecting the
    calendar meanwhile stops the purge (D4).
    """
    with write_transaction():
        if not consensus(subaccount_id, event_type_uri).agreed:
            return 0
        rows = list(
            calendar_appointments(subaccount_id, event_type_uri)
            .select(Appointment.id, Appointment.contact)
            .order_by(Appointment.id)
            .limit(batch_size)
        )
        if not rows:
            return 0
        ids = [r.id for r in rows]
        contact_ids = {r.contact_id for r in rows if r.contact_id}
        guest_contact_ids = {
            g.contact_id for g in AppointmentGuest.select(AppointmentGuest.contact).where(
                AppointmentGuest.appointment.in_(ids))
        }
        # Clear self-references first: a rescheduled appointment may point at one we delete.
        Appointment.update(rescheduled_to=None).where(Appointment.rescheduled_to.in_(ids)).execute()
        AppointmentGuest.delete().where(AppointmentGuest.appointment.in_(ids)).execute()
        AppointmentSource.delete().where(AppointmentSource.appointment.in_(ids)).execute()
        deleted = Appointment.delete().where(Appointment.id.in_(ids)).execute()
        refresh_assigned_users(contact_ids | guest_contact_ids)
        live.touch(subaccount_id)  # open pages drop this batch once it is committed, not only at the end
    return deleted


def remaining_by_member_count(subaccount_id, event_type_uri):
    """How many appointments stay, and how many members have yet to agree (for the UI)."""
    c = consensus(subaccount_id, event_type_uri)
    return count_for_calendar(subaccount_id, event_type_uri), len(c.waiting_on)


def waiting_deletions(subaccount_id, user_id):
    """The calendars ``user_id`` chose to Delete whose events stay until other members agree (D4).

    Returns ``[(name, count, members_waiting, members_who_kept)]``: one entry per calendar
    whose latest period of this user ended with Delete while the
    consensus is not reached and appointments remain.
    """
    latest = {}
    periods = (
        CalendarSelection.select(CalendarSelection)
        .join(CalendlyConnection)
        .where((CalendlyConnection.subaccount == subaccount_id) & (CalendlyConnection.user == user_id))
        .order_by(CalendarSelection.selected_from, CalendarSelection.id)
    )
    for period in periods:
        latest[period.event_type_uri] = period
    waiting = []
    for uri, period in sorted(latest.items(), key=lambda item: item[1].name.lower()):
        if period.ended_with != DELETE:
            continue
        c = consensus(subaccount_id, uri)
        count = count_for_calendar(subaccount_id, uri)
        if not c.agreed and count:
            waiting.append((period.name, count, len(c.waiting_on), len(c.kept_by)))
    return waiting
