"""Reconciliation: what a lost webhook missed, plan and webhook upkeep (SPEC E5, C5, C7).

Every ``RECONCILE_INTERVAL_SECONDS`` each connection lists the events that
start from ``RECONCILE_LOOKBACK_DAYS`` ago on and applies every invitee
through the one idempotent path, so a dropped delivery still becomes an
appointment and a delivered one is not imported twice (W6). It also

- re-reads the Calendly plan: a lapsed trial turns the connection to **Plan
  not supported** and it stops syncing; once the plan allows it again the
  connection resumes by itself (C5);
- checks the webhook subscription and recreates it when Calendly disabled or
  lost it (C7);
- restarts a backfill that never finished (watchdog for S1 Importing/Error).
"""
import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from portal import connection_status
from portal.calendly import subscriptions
from portal.calendly.client import CalendlyClient
from portal.calendly.errors import CalendlyError, PlanNotSupported, ReconnectNeeded, TransientError
from portal.calendly.plans import plan_allowed, plan_refusal_message
from portal.models import CalendlyConnection, Status
from portal.queues import get_queue, get_redis
from portal.pipeline.backfill import apply_events, selected_event_types
from portal.sync.apply import RECONCILE
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

RECONCILE_JOB, BACKFILL_JOB = "jobs.sync.reconcile_connection", "jobs.sync.backfill_connection"
ACTIVE_JOB_STATES = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
# Consecutive failed reconciliations before the status turns to Error (one
# blip at Calendly should not alarm anyone).
ERROR_AFTER_FAILURES = 3
# Statuses worth a reconciliation: syncing ones, and Plan not supported to notice an upgrade.
RECONCILED = Status.SYNCING + (Status.PLAN_NOT_SUPPORTED,)


def run(connection_id):
    """``jobs.sync.reconcile_connection``: returns the number of invitees applied, or None."""
    connection = CalendlyConnection.get_or_none(CalendlyConnection.id == connection_id)
    if connection is None or connection.connected_at is None or connection.status not in RECONCILED:
        return None
    client = CalendlyClient(connection)
    try:
        if not check_plan(connection, client):
            return None
        since = utcnow() - timedelta(days=current_app.config.get("RECONCILE_LOOKBACK_DAYS", 7))
        wanted = selected_event_types(connection.id)
        events = (
            e for e in client.list_scheduled_events(user_uri=connection.calendly_user_uri, min_start_time=since)
            if e.get("event_type") in wanted and e.get("uri")
        )
        applied = apply_events(connection, client, events, RECONCILE)
        check_webhook(connection, client)
    except (ReconnectNeeded, PlanNotSupported) as exc:
        log.info("reconciliation of connection %s stopped: %s", connection_id, exc)
        return None
    except CalendlyError as exc:
        _failed(connection_id, exc)
        if isinstance(exc, TransientError):
            raise
        return None
    finally:
        client.close()
    recovered = {"failure_count": 0, "last_reconciled_at": utcnow()}
    CalendlyConnection.update(**recovered).where(CalendlyConnection.id == connection_id).execute()
    # An Error left by failed reconciliations clears once one succeeds (a failed backfill is the watchdog's).
    if CalendlyConnection.update(status=Status.CONNECTED, last_error=None).where(
            (CalendlyConnection.id == connection_id) & (CalendlyConnection.status == Status.ERROR)
            & CalendlyConnection.backfilled_at.is_null(False)).execute():
        connection_status.changed(connection_id)
    return applied


def check_plan(connection, client):
    """C5: read the plan; stop a lapsed connection, resume an upgraded one. True when it may sync."""
    if not connection.organization_uri:
        return connection.is_syncing
    org = client.get_organization(connection.organization_uri)
    plan, stage = org.get("plan") or "", org.get("stage") or ""
    fields = {"plan": plan, "stage": stage}
    if not plan_allowed(plan, stage):
        if connection.status != Status.PLAN_NOT_SUPPORTED:
            log.info("connection %s: plan %s/%s no longer allowed", connection.id, plan, stage)
        fields.update(status=Status.PLAN_NOT_SUPPORTED, last_error=plan_refusal_message(plan, stage))
        _update_unless_gone(connection, fields)
        return False
    if connection.status == Status.PLAN_NOT_SUPPORTED:
        log.info("connection %s: plan %s/%s allowed again, resuming", connection.id, plan, stage)
        resumed = Status.CONNECTED if connection.backfilled_at else Status.IMPORTING
        fields.update(status=resumed, last_error=None, failure_count=0)
        if resumed == Status.IMPORTING:
            enqueue_backfill(connection.id)
    _update_unless_gone(connection, fields)
    return connection.is_syncing


def check_webhook(connection, client):
    """C7: store the subscription's state; replace it when disabled or missing."""
    found = None
    if connection.webhook_subscription_uri:
        found = subscriptions.find(client, connection)
        state = subscriptions.state_of(found)
        _update_unless_gone(connection, {"webhook_state": state})
        if state == subscriptions.ACTIVE:
            return state
        log.info("connection %s: webhook subscription %s, recreating", connection.id, state)
    sub = subscriptions.ensure_webhook(connection, client, found=found)
    return sub.get("state")


def _update_unless_gone(connection, fields):
    for name, value in fields.items():
        setattr(connection, name, value)
    CalendlyConnection.update(**fields).where(
        (CalendlyConnection.id == connection.id) & (CalendlyConnection.status != Status.DISCONNECTED)
    ).execute()
    if "status" in fields:
        connection_status.changed(connection.id)


def _failed(connection_id, exc):
    text = f"Reconciliation with Calendly failed: {exc}"[:2000]
    CalendlyConnection.update(failure_count=CalendlyConnection.failure_count + 1, last_error=text).where(
        CalendlyConnection.id == connection_id).execute()
    if CalendlyConnection.update(status=Status.ERROR).where(
            (CalendlyConnection.id == connection_id) & (CalendlyConnection.failure_count >= ERROR_AFTER_FAILURES)
            & CalendlyConnection.status.in_(Status.SYNCING)).execute():
        connection_status.changed(connection_id)


# ------------------------------------------------------------------ scheduling
# Per job: queue, job id prefix, RQ options. A backfill of a busy account takes
# many minutes at Calendly's rate limit, far beyond RQ's 180 s default timeout.
JOBS = {
    RECONCILE_JOB: ("default", "reconcile", {"job_timeout": 900}),
    BACKFILL_JOB: ("bulk", "backfill", {"job_timeout": 3 * 3600, "retry": (3, [30, 120, 600])}),
}


def enqueue_once(func, connection_id):
    """Enqueue ``func(connection_id)`` as ``<kind>-<id>`` unless that job is queued or running; True if enqueued.

    RQ's unique job id makes the enqueue atomic (two callers never both win);
    a finished or failed job keeps its id in Redis for its TTL, so only that one is removed first.
    """
    queue_name, kind, options = JOBS[func]
    job_id = f"{kind}-{connection_id}"
    options = dict(options)
    if "retry" in options:
        max_, intervals = options.pop("retry")
        options["retry"] = Retry(max=max_, interval=intervals)
    queue = get_queue(queue_name)
    for _ in range(2):
        try:
            queue.enqueue(func, connection_id, job_id=job_id, unique=True, **options)
            return True
        except DuplicateJobError:
            try:
                held = Job.fetch(job_id, connection=get_redis())
            except NoSuchJobError:
                continue
            if held.get_status() in ACTIVE_JOB_STATES:
                return False
            held.delete()
    return False


def enqueue_backfill(connection_id):
    """W2: the backfill job with its long timeout and retries (the first Save may use this too)."""
    return enqueue_once(BACKFILL_JOB, connection_id)


def enqueue_all():
    """``jobs.sync.reconcile_all``: a reconciliation per connection, and restart stalled backfills."""
    count = 0
    # A list, not a cursor: with RQ_ASYNC off the enqueued jobs run inline and close the connection.
    connections = list(CalendlyConnection.select().where(
        CalendlyConnection.status.in_(RECONCILED) & CalendlyConnection.connected_at.is_null(False)))
    for connection in connections:
        try:
            if enqueue_once(RECONCILE_JOB, connection.id):
                count += 1
            if connection.backfilled_at is None and connection.status in (Status.IMPORTING, Status.ERROR):
                enqueue_backfill(connection.id)
        except RedisError as exc:
            log.warning("reconcile_all: Redis unavailable (%s)", exc)
            break
    return count
