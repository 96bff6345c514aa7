"""Reconciliation: what a lost webhook missed, plan and webhook upkeep (SPEC E5, C5, C7).

Every ``RECONCILE_INTERVAL_SECONDS`` each connection lists the events that
start from ``RECONCILE_LOOKBACK_DAYS`` ago on and applies every invitee of
those new or changed since the last run (``event_memory``) through the
one idempotent path, so a dropped delivery still becomes an appointment and
a delivered one is not imported twice (W6). It also

- re-reads the Calendly plan: a lapsed trial turns the connection to **Plan
  not supported** and it stops syncing; once the plan allows it again the
  connection resumes by itself (C5);
- re-reads the selected calendars' event types (renamed, deleted, inactive);
- checks the webhook subscription and replaces it (new first, then the old
  deleted) when Calendly disabled or lost it or its events differ (C7);
- restarts a backfill that never finished (watchdog for S1 Importing/Error).
"""
import logging
import math
import uuid
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from portal import connection_status
from portal.calendly import subscriptions
from portal.calendly.client import CalendlyClient
from portal.calendly.errors import CalendlyError, NotFound, PlanNotSupported, RateLimited, ReconnectNeeded, TransientError
from portal.calendly.plans import plan_allowed, plan_refusal_message
from portal.pipeline.event_memory import EventMemory
from portal.models import CalendlyConnection, Status
from portal.queues import get_queue, get_redis
from portal.pipeline.backfill import apply_events, selected_event_types
from portal.sync.apply import RECONCILE
from portal.sync.event_types import follow_event_type
from portal.sync.webhook_events import EVENT_TYPE_EVENTS
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
        if event_types_due(connection):
            follow_event_types(connection, client)
        since = utcnow() - timedelta(days=current_app.config.get("RECONCILE_LOOKBACK_DAYS", 7))
        wanted = selected_event_types(connection.id)
        events = [
            e for e in client.list_scheduled_events(user_uri=connection.calendly_user_uri, min_start_time=since)
            if e.get("event_type") in wanted and e.get("uri")
        ]
        # Invitees are read only for events new or changed since the last run (issue 12, item 7).
        memory = EventMemory(connection)
        try:
            applied = apply_events(connection, client, memory.to_read(events), RECONCILE,
                                   applied_event=memory.applied)
        finally:
            memory.save()
        check_webhook(connection, client)
    except (ReconnectNeeded, PlanNotSupported) as exc:
        log.info("reconciliation of connection %s stopped: %s", connection_id, exc)
        return None
    except RateLimited:
        raise  # backoff, never Error: ``jobs.sync`` runs it again after Calendly's reset (``enqueue_later``)
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


def event_types_due(connection):
    """Whether this run re-reads the event types. Each run while event_type.* deliveries cannot come
    (not subscribed, or the subscription is not active); otherwise at most once per
    ``EVENT_TYPES_REFRESH_SECONDS`` per connection, a catch-up for lost deliveries that keeps a
    quiet run's calls low (issue 12, item 7). Redis unreachable: re-read (costs a call, loses nothing)."""
    every = int(current_app.config.get("EVENT_TYPES_REFRESH_SECONDS", 3600))
    if every <= 0 or connection.webhook_state != subscriptions.ACTIVE \
            or not set(EVENT_TYPE_EVENTS) <= set(subscriptions.wanted_events()):
        return True
    try:
        return bool(get_redis().set(f"calbridge:reconcile:event-types:{connection.id}", 1, nx=True, ex=every))
    except RedisError:
        return True


def follow_event_types(connection, client):
    """Re-read the selected calendars' event types: renamed, deleted or inactive ones are followed
    even where no event_type.* delivery came (scope not granted, or a delivery lost)."""
    selected = {s.event_type_uri for s in connection.current_selections()}
    if not selected:
        return 0
    listed = {et.get("uri"): et for et in client.list_event_types(connection.calendly_user_uri)}
    changed = 0
    for uri in selected:
        event_type = listed.get(uri)
        if event_type is None:  # not listed: deleted (still readable by URI) or gone altogether
            try:
                event_type = client.get_event_type(uri)
            except NotFound:
                event_type = {"uri": uri, "deleted_at": utcnow().isoformat()}
        changed += follow_event_type(connection, event_type).changed
    return changed


def check_webhook(connection, client):
    """C7: store the subscription's state; replace it (new first, then the old deleted) when
    Calendly disabled or lost it, or when it asks for other events than the portal's."""
    sub = subscriptions.find(client, connection)
    state = subscriptions.state_of(sub)
    if state != subscriptions.ACTIVE:
        log.info("connection %s: webhook subscription %s, recreating", connection.id, state)
    _update_unless_gone(connection, {"webhook_state": state})
    return subscriptions.state_of(subscriptions.ensure_webhook(connection, client, found=sub))


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
    """Enqueue ``func(connection_id)`` as ``<kind>-<id>`` unless that job is queued or running, or backing off
    after a 429; True if enqueued.

    RQ's unique job id makes the enqueue atomic (two callers never both win);
    a finished or failed job keeps its id in Redis for its TTL, so only that one is removed first.
    """
    queue_name, kind, options = JOBS[func]
    job_id = f"{kind}-{connection_id}"
    if get_redis().exists(backoff_key(kind, connection_id)):
        return False
    options = _rq_options(options)
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


def backoff_key(kind, connection_id):
    return f"calbridge:backoff:{kind}:{connection_id}"


# After the reset, the margin during which the scheduled run has the connection to itself.
BACKOFF_MARGIN_SECONDS = 120


def enqueue_later(func, connection_id, seconds):
    """A 429 that outlasted the client's short waits: run ``func(connection_id)`` again once Calendly's limit
    has reset (``Retry-After`` / ``X-RateLimit-Reset``); until then ``enqueue_once`` leaves it alone.
    Returns the RQ job (its own id: the job that hit the limit may still be running under the usual one)."""
    queue_name, kind, options = JOBS[func]
    delay = max(1, math.ceil(seconds))
    get_redis().set(backoff_key(kind, connection_id), delay, ex=delay + BACKOFF_MARGIN_SECONDS)
    log.info("connection %s: Calendly is rate limiting; %s again in %d s", connection_id, kind, delay)
    return get_queue(queue_name).enqueue_in(timedelta(seconds=delay), func, connection_id,
                                            job_id=f"{kind}-{connection_id}-after-429-{uuid.uuid4().hex[:8]}",
                                            **_rq_options(options))


def _rq_options(options):
    options = dict(options)
    if "retry" in options:
        max_, intervals = options.pop("retry")
        options["retry"] = Retry(max=max_, interval=intervals)
    return options


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
