"""Removing calendars and deleting what was synced from them (SPEC D2-D5, W4).

A removal closes the calendar's open selection period with the user's answer,
Keep or Delete; that answer is also the user's vote on the calendar's shared
appointments. An appointment of a calendar is deleted only when every member
of the subaccount who connected Calendly with that calendar has, in their
latest period for it, answered Delete (D4) — for a personal calendar that is
the one member. Contacts are never deleted (D5); assigned users are
recomputed for the contacts that lost appointments (O3).

Deleting runs in the background (D5): ``request_purge`` creates a ``Task``
row (what the Connections page shows as progress) and enqueues
``jobs.deletion.purge_calendar(task_id)`` on the "bulk" queue; ``run_purge``
deletes ``DELETE_BATCH_SIZE`` appointments per transaction until none is
left, re-checking consent before each batch.
"""
import logging
from collections import namedtuple

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry

from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentGuest,
    AppointmentSource,
    CalendarSelection,
    CalendlyConnection,
    Source,
    Task,
)
from portal.models.audit import record
from portal.queues import get_queue
from portal.sync.apply import write_transaction
from portal.sync.ownership import refresh_assigned_users
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

KEEP = "keep"
DELETE = "delete"

# ``members``: every user id who connected the calendar; ``waiting_on``: those who have not chosen Delete.
Consensus = namedtuple("Consensus", "agreed waiting_on members")
# What a Delete answer led to: a queued purge ``task``, or ``waiting`` on
# other members (D4); ``count`` is the number of appointments concerned.
PurgeRequest = namedtuple("PurgeRequest", "count task waiting")

PURGE_JOB = "jobs.deletion.purge_calendar"
PURGE_KIND = "purge_calendar"
ACTIVE_TASK_STATES = ("queued", "running")
PURGE_TIMEOUT = 2 * 3600
PURGE_RETRY = dict(max=3, interval=[10, 60, 300])


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
    return Consensus(agreed=bool(latest) and not waiting_on, waiting_on=waiting_on, members=list(latest))


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
    return deleted


def remaining_by_member_count(subaccount_id, event_type_uri):
    """How many appointments stay, and how many members have yet to agree (for the UI)."""
    c = consensus(subaccount_id, event_type_uri)
    return count_for_calendar(subaccount_id, event_type_uri), len(c.waiting_on)


def waiting_deletions(subaccount_id, user_id):
    """The calendars ``user_id`` chose to Delete whose events stay until other members agree (D4).

    Returns ``[(name, count, members_waiting)]``: one entry per calendar
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
            waiting.append((period.name, count, len(c.waiting_on)))
    return waiting


# ------------------------------------------------------------------ background purge (D5)
def active_purge(subaccount_id, event_type_uri):
    """The queued or running purge of this calendar, if any."""
    return Task.select().where(
        (Task.subaccount == subaccount_id) & (Task.kind == PURGE_KIND)
        & (Task.event_type_uri == event_type_uri) & Task.state.in_(ACTIVE_TASK_STATES)
    ).first()


def request_purge(subaccount_id, event_type_uri, name, *, connection=None, actor=None):
    """After a Delete answer: start the purge if every member agreed (D4), else say who is awaited.

    Returns a ``PurgeRequest``. A purge already under way for the calendar
    is reused, so two answers never start two jobs.
    """
    count = count_for_calendar(subaccount_id, event_type_uri)
    agreement = consensus(subaccount_id, event_type_uri)
    if not agreement.agreed:
        return PurgeRequest(count, None, len(agreement.waiting_on))
    if not count:
        return PurgeRequest(0, None, 0)
    task = active_purge(subaccount_id, event_type_uri)
    if task is None:
        task = Task.create(
            subaccount=subaccount_id, connection=getattr(connection, "id", connection), kind=PURGE_KIND,
            description=name[:255], event_type_uri=event_type_uri, total=count, requested_by=actor,
        )
        enqueue_purge(task)
    return PurgeRequest(count, task, 0)


def enqueue_purge(task):
    """Queue ``jobs.deletion.purge_calendar(task.id)`` on "bulk" as ``purge-<task id>``.

    If Redis cannot take it, the task is marked failed with a message; its
    Retry action queues it again.
    """
    job_id = f"purge-{task.id}"
    Task.update(state="queued", error=None, rq_job_id=job_id, finished_at=None).where(Task.id == task.id).execute()
    task.state, task.error, task.rq_job_id = "queued", None, job_id
    try:
        get_queue("bulk").enqueue(PURGE_JOB, task.id, job_id=job_id, job_timeout=PURGE_TIMEOUT,
                                  retry=Retry(**PURGE_RETRY))
    except RedisError as exc:
        log.warning("could not queue purge task %s: %s", task.id, exc)
        _finish(task.id, "failed", error="The deletion could not be started (the job queue is unavailable). "
                                         "Try again in a moment.")
        return False
    return True


def run_purge(task_id, batch_size=None):
    """``jobs.deletion.purge_calendar``: delete the calendar's appointments batch by batch (D5).

    Progress is stored on the task after every batch. Stops (state
    ``stopped``) if a member selects the calendar again meanwhile (D4).
    Returns the number deleted by this run.
    """
    task = Task.get_or_none(Task.id == task_id)
    if task is None or task.state in ("done", "stopped"):
        return 0
    batch_size = batch_size or current_app.config.get("DELETE_BATCH_SIZE", 500)
    Task.update(state="running", error=None).where(Task.id == task_id).execute()
    subaccount_id, uri = task.subaccount_id, task.event_type_uri
    deleted, done = 0, task.done
    try:
        while n := purge_batch(subaccount_id, uri, batch_size):
            deleted += n
            done += n
            Task.update(done=done).where(Task.id == task_id).execute()
    except Exception as exc:
        _finish(task_id, "failed", error=f"Deleting stopped on an error: {exc}"[:2000], done=done)
        raise
    remaining = count_for_calendar(subaccount_id, uri)
    if remaining and not consensus(subaccount_id, uri).agreed:
        _finish(task_id, "stopped", done=done, error=(
            f"Stopped: {task.description} was selected again by a member who connected it, "
            f"so its other {remaining} events stay."))
        detail = f"Stopped after {deleted} because the calendar was selected again; contacts kept"
    else:
        _finish(task_id, "done", done=done, total=max(task.total, done))
        detail = "Contacts kept; assigned users recomputed"
    record("calendar.purged", actor=task.requested_by_id, subaccount=subaccount_id, target=task.description,
           count=deleted, detail=detail)
    return deleted


def _finish(task_id, state, **fields):
    Task.update(state=state, finished_at=utcnow(), **fields).where(Task.id == task_id).execute()
