"""Disconnecting Calendly (SPEC D3, C7, W5, D5).

``disconnect`` asks one Keep / Delete answer for every calendar of the
connection, turns it to Disconnected (webhook deliveries are then refused
with 410, syncing stops), records the answers and starts the purges like
an Edit does, then removes Calbridge's access at Calendly: the webhook
subscription is deleted and the tokens revoked (``portal.calendly.release``,
retried by ``jobs.deletion.release_connection`` when Calendly cannot be
reached). The row stays as history; connecting the account again creates a
new connection with a new backfill (W5).
"""
import logging

from redis.exceptions import RedisError
from rq import Retry

from portal.calendly.errors import TransientError
from portal.calendly.release import release_at_calendly, release_tokens
from portal.pipeline.answers import CHOICES, close_periods, events_phrase, start_purges, stay_verb
from portal.models import CalendarSelection, CalendlyConnection, Membership, Status, User
from portal.models.audit import record
from portal.queues import get_queue
from portal.sync.apply import write_transaction
from portal.sync.deletion import DELETE, KEEP
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

RELEASE_JOB = "jobs.deletion.release_connection"
ALREADY = "This Calendly connection was already disconnected."


def disconnect(connection, choice, actor):
    """Remove the whole integration with one answer for every calendar; returns messages.

    A connection whose setup never finished has nothing synced: its token is
    revoked and the row removed.
    """
    if connection.connected_at is None:
        release_tokens(connection)
        email = connection.calendly_email
        connection.delete_instance()
        record("connection.disconnect", actor=actor, subaccount=connection.subaccount_id, target=email,
               detail="Setup was not finished; nothing had been imported")
        return [("success", f"Calendly disconnected ({email}).")]
    if choice not in CHOICES:
        raise ValueError(f"choice must be keep or delete, not {choice!r}")

    now = utcnow()
    with write_transaction():
        # Only one of two simultaneous Disconnects (a double click) gets past this update.
        if not CalendlyConnection.update(status=Status.DISCONNECTED, disconnected_at=now).where(
                (CalendlyConnection.id == connection.id)
                & (CalendlyConnection.status != Status.DISCONNECTED)).execute():
            return [("info", ALREADY)]
        selections = list(connection.current_selections())
        removed = [(s, choice) for s in selections]
        close_periods(connection, removed, now, actor)
        answer = "kept the events" if choice == KEEP else "deleted the events"
        record("connection.disconnect", actor=actor, subaccount=connection.subaccount_id,
               target=connection.calendly_email, count=len(selections),
               detail=f"Disconnected and {answer} of: {', '.join(s.name for s in selections) or 'no calendars'}")
    connection.status, connection.disconnected_at = Status.DISCONNECTED, now

    messages = [("success", f"Calendly disconnected ({connection.calendly_email}). "
                            "Calbridge no longer receives its bookings.")]
    try:
        release_at_calendly(connection.id)
    except TransientError:
        _enqueue_release(connection.id)
        messages.append(("warning", "Calendly could not be reached to remove Calbridge's access; "
                                    "it is retried in the background."))
    messages.extend(_disconnect_messages(start_purges(connection, removed, actor)))
    return messages


def _enqueue_release(connection_id):
    try:
        get_queue("default").enqueue(RELEASE_JOB, connection_id, job_id=f"release-{connection_id}",
                                     retry=Retry(max=5, interval=[30, 120, 600, 1800, 3600]))
    except RedisError as exc:
        log.warning("could not queue the release of connection %s: %s", connection_id, exc)


def _disconnect_messages(results):
    """One sentence for all calendars (shared ones awaiting other members have their notice on the page)."""
    kept = sum(count for _, choice, count, _ in results if choice == KEEP)
    deleting = sum(count for _, choice, count, req in results if choice == DELETE and req.task is not None)
    messages = []
    if kept:
        messages.append(("success", f"The {events_phrase(kept)} imported from it {stay_verb(kept)} in Calbridge."))
    if deleting:
        messages.append(("success", f"The {events_phrase(deleting)} imported from it {'is' if deleting == 1 else 'are'} deleted in batches: "
                                    "Deletions below shows the progress."))
    return messages


def past_connections(subaccount_id, user_id, limit=5):
    """The user's disconnected connections here, latest first, with the calendars they had (D3)."""
    rows = list(CalendlyConnection.select().where(
        (CalendlyConnection.subaccount == subaccount_id) & (CalendlyConnection.user == user_id)
        & (CalendlyConnection.status == Status.DISCONNECTED)
    ).order_by(CalendlyConnection.disconnected_at.desc(), CalendlyConnection.id.desc()).limit(limit))
    for row in rows:
        row.final_selections = list(row.selections.where(
            CalendarSelection.selected_until == row.disconnected_at).order_by(CalendarSelection.name))
    return rows


def former_members_connections(subaccount_id, limit=10):
    """Connections here of users who are no longer members (removed by an admin), latest first."""
    members = Membership.select(Membership.user).where(Membership.subaccount == subaccount_id)
    return list(CalendlyConnection.select(CalendlyConnection, User).join(User).where(
        (CalendlyConnection.subaccount == subaccount_id) & (CalendlyConnection.status == Status.DISCONNECTED)
        & CalendlyConnection.user.not_in(members)
    ).order_by(CalendlyConnection.disconnected_at.desc(), CalendlyConnection.id.desc()).limit(limit))
