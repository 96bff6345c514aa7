"""The first import after connecting (SPEC W2, S1 Importing).

Lists the connected user's scheduled events starting from ``connected_at -
BACKFILL_DAYS`` on (so upcoming ones are included) and applies every invitee
of a selected calendar through the same path as webhooks. ``decide`` judges
each one by its creation time: an event created 100 days ago that started 150
days ago is inside "created within 180 days" only because the listing starts
at the window's start, not at ``connected_at``.
"""
import logging
from datetime import timedelta

from flask import current_app

from portal import connection_status
from portal.calendly.client import CalendlyClient
from portal.calendly.errors import CalendlyError, PlanNotSupported, RateLimited, ReconnectNeeded, TransientError
from portal import live
from portal.models import AppointmentSource, CalendarSelection, CalendlyConnection, Status
from portal.pipeline import workflows
from portal.sync.apply import BACKFILL, apply_booking
from portal.sync.booking import BookingError, parse_booking
from portal.sync.no_shows import apply_no_show, notice_from_invitee
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

# Calendly's limit is per user per minute; X-RateLimit-Reset is at most this (API-FACTS §8).
RATE_LIMIT_WINDOW_SECONDS = 65


def selected_event_types(connection_id):
    """Every calendar the connection ever selected: ``decide`` judges the rest."""
    return {
        s.event_type_uri
        for s in CalendarSelection.select(CalendarSelection.event_type_uri).where(
            CalendarSelection.connection == connection_id)
    }


def apply_events(connection, client, events, via, progress=None, applied_event=None):
    """Apply every invitee of ``events`` (selected calendars only); returns the number applied.

    The connection row is read again before each event so a disconnect or a
    status set by the client stops the run. ``applied_event(event)`` is called
    once all of an event's invitees are applied.
    """
    applied, backfill_days = 0, current_app.config.get("BACKFILL_DAYS", 180)
    for index, event in enumerate(events, start=1):
        current = CalendlyConnection.get_or_none(CalendlyConnection.id == connection.id)
        if current is None or not current.is_syncing:
            break
        for invitee in client.list_invitees(event["uri"]):
            try:
                booking = parse_booking(invitee, event)
            except BookingError as exc:
                log.warning("connection %s: skipped an unreadable invitee of %s: %s", connection.id,
                            event.get("uri"), exc)
                continue
            result = apply_booking(current, booking, via, backfill_days=backfill_days)
            _follow_no_show(current, invitee, event, result.appointment, via)
            applied += 1
        if applied_event is not None:
            applied_event(event)
        if progress is not None:
            progress(index)
        if applied:
            workflows.kick_if_pending()
    return applied


def _follow_no_show(connection, invitee, event, appointment, via):
    """A listing sees the invitee's ``no_show`` as Calendly has it now: make good a lost delivery."""
    if appointment is None or bool(invitee.get("no_show")) == bool(getattr(appointment, "no_show_at", None)):
        return
    apply_no_show(connection, notice_from_invitee(invitee, event), via)


def run(connection_id):
    """``jobs.sync.backfill_connection``: W2 for one connection, with progress for the UI."""
    connection = CalendlyConnection.get_or_none(CalendlyConnection.id == connection_id)
    if connection is None or connection.connected_at is None or not connection.is_syncing:
        return 0
    days = current_app.config.get("BACKFILL_DAYS", 180)
    since = connection.connected_at - timedelta(days=days)
    CalendlyConnection.update(status=Status.IMPORTING, backfill_total=0, backfill_done=0).where(
        (CalendlyConnection.id == connection_id) & CalendlyConnection.status.in_(Status.SYNCING)).execute()
    client = CalendlyClient(connection)
    # A backfill needs more calls than one rate-limit window allows and starts over when it fails,
    # so it waits out a whole window on a 429 instead of handing the job back to RQ.
    client.max_rate_wait = max(client.max_rate_wait, RATE_LIMIT_WINDOW_SECONDS)
    try:
        wanted = selected_event_types(connection_id)
        events = [
            e for e in client.list_scheduled_events(user_uri=connection.calendly_user_uri, min_start_time=since)
            if e.get("event_type") in wanted and e.get("uri")
        ]
        _update(connection_id, backfill_total=len(events))
        applied = apply_events(
            connection, client, events, BACKFILL,
            progress=lambda done: _update(connection_id, backfill_done=done),
        )
    except (ReconnectNeeded, PlanNotSupported) as exc:
        # The client has set Reconnect needed / Plan not supported (C5, C6).
        log.info("backfill of connection %s stopped: %s", connection_id, exc)
        return 0
    except RateLimited:
        raise  # backoff, never Error: it stays Importing and ``jobs.sync`` runs it again after the reset
    except CalendlyError as exc:
        _fail(connection_id, exc)
        if isinstance(exc, TransientError):
            raise
        return 0
    finally:
        client.close()
    # What the Connections row's "Last sync" reports: the appointments the import left here (issue 16).
    imported = AppointmentSource.select().where(AppointmentSource.connection == connection_id).count()
    CalendlyConnection.update(
        status=Status.CONNECTED, last_error=None, failure_count=0, backfilled_at=utcnow(), backfill_imported=imported
    ).where((CalendlyConnection.id == connection_id) & CalendlyConnection.status.in_(
        (Status.IMPORTING, Status.ERROR))).execute()
    connection_status.changed(connection_id)
    live.touch(connection.subaccount_id)  # open Connections pages show the finished import
    log.info("backfill of connection %s done: %d invitees over %d events", connection_id, applied, len(events))
    return applied


def _update(connection_id, **fields):
    CalendlyConnection.update(**fields).where(CalendlyConnection.id == connection_id).execute()


def _fail(connection_id, exc):
    """S1 Error with the last error; the reconciliation watchdog starts the backfill again."""
    CalendlyConnection.update(
        status=Status.ERROR, last_error=f"Importing from Calendly failed: {exc}"[:2000],
        failure_count=CalendlyConnection.failure_count + 1,
    ).where((CalendlyConnection.id == connection_id) & CalendlyConnection.status.in_(Status.SYNCING)).execute()
    connection_status.changed(connection_id)
