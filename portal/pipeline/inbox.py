"""The durable webhook inbox (SPEC E5, W6): hand-off to RQ and the sweep.

A delivery is stored (``portal.pipeline.intake``) before it is acknowledged;
``enqueue`` hands it to a worker as ``jobs.sync.apply_batch``. If Redis is
down it stays ``received`` and ``sweep`` hands it on later, as it does for
whatever a dead worker left behind. Applying is ``portal.pipeline.batches``'s
and is safe to run twice.
"""
import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry
from rq.job import Job, JobStatus

from portal.models import DeliveryState, WebhookDelivery
from portal.queues import get_queue, get_redis
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

APPLY_JOB = "jobs.sync.apply_batch"
QUEUE = "sync"
RETRY = dict(max=3, interval=[5, 30, 120])
# After this many attempts a failed delivery is left for support (S2 retry action).
MAX_ATTEMPTS = 8
SWEEP_BATCH = 500
ACTIVE_JOB_STATES = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def job_id(delivery_id):
    return f"delivery-{delivery_id}"


def enqueue(delivery_id, stored_as_queued=False):
    """Hand the delivery to a worker (queue ``sync``); False when Redis is unavailable."""
    queue = get_queue(QUEUE)
    job = dict(job_id=job_id(delivery_id), retry=Retry(**RETRY), description=f"Apply Calendly delivery {delivery_id}")
    try:
        if queue.is_async:
            # One round trip to Redis instead of RQ's two (queue registration, then the job).
            pipe = get_redis().pipeline()
            queue.enqueue(APPLY_JOB, delivery_id, pipeline=pipe, **job)
            pipe.execute()
        else:  # run inline (tests): RQ runs the job before a pipeline would be sent
            queue.enqueue(APPLY_JOB, delivery_id, **job)
    except RedisError as exc:
        log.warning("delivery %s stays in the inbox: Redis unavailable (%s)", delivery_id, exc)
        if stored_as_queued:
            WebhookDelivery.update(state=DeliveryState.RECEIVED).where(
                (WebhookDelivery.id == delivery_id) & (WebhookDelivery.state == DeliveryState.QUEUED)).execute()
        return False
    if stored_as_queued:
        return True
    # Conditional: the worker may already have applied it.
    WebhookDelivery.update(state=DeliveryState.QUEUED).where(
        (WebhookDelivery.id == delivery_id)
        & WebhookDelivery.state.in_((DeliveryState.RECEIVED, DeliveryState.FAILED))
    ).execute()
    return True


def _still_active(job, cutoff, queued_ids):
    """True while ``job`` is queued, scheduled or really running.

    A worker killed mid-job (SIGKILL, OOM) leaves it "started" until RQ's
    registry cleanup, minutes later; applying one delivery takes
    milliseconds, so one started before ``cutoff`` is abandoned: its stale
    execution is dropped and the sweep enqueues it again (apply is idempotent).
    One killed between taking a job off the queue and starting it (RQ's
    LPOP, or a batch claim) leaves it "queued" but in no queue: abandoned too.
    """
    status = job.get_status(refresh=False)  # as fetched: a worker may delete a job it claims meanwhile
    if status == JobStatus.QUEUED:
        return job.id in queued_ids
    if status != JobStatus.STARTED:
        return status in ACTIVE_JOB_STATES
    if job.started_at is None or job.started_at.replace(tzinfo=None) >= cutoff:
        return True
    job.started_job_registry.remove_executions(job)
    return False


def sweep(now=None):
    """Re-enqueue deliveries a worker never finished (E5); returns how many.

    Picks rows received, queued or failed more than ``INBOX_SWEEP_AFTER_SECONDS``
    ago whose RQ job is not queued, running or scheduled for a retry.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=current_app.config.get("INBOX_SWEEP_AFTER_SECONDS", 30))
    rows = list(
        WebhookDelivery.select(WebhookDelivery.id)
        .where(
            WebhookDelivery.state.in_(DeliveryState.PENDING + (DeliveryState.FAILED,))
            & (WebhookDelivery.received_at < cutoff)
            & WebhookDelivery.connection.is_null(False)
            & (WebhookDelivery.attempts < MAX_ATTEMPTS)
        )
        .order_by(WebhookDelivery.id)
        .limit(SWEEP_BATCH)
    )
    if not rows:
        return 0
    ids = [r.id for r in rows]
    try:
        queued_ids = set(get_queue(QUEUE).get_job_ids())  # before fetching: a job taken since looks started
        jobs = Job.fetch_many([job_id(i) for i in ids], connection=get_redis())
        active = {i for i, j in zip(ids, jobs) if j is not None and _still_active(j, cutoff, queued_ids)}
    except RedisError as exc:
        log.warning("inbox sweep skipped: Redis unavailable (%s)", exc)
        return 0
    count = 0
    for delivery_id in ids:
        if delivery_id not in active and enqueue(delivery_id):
            count += 1
    if count:
        log.info("inbox sweep re-enqueued %d deliveries", count)
    return count
