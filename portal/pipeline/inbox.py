"""The durable webhook inbox (SPEC E5, W6): hand-off to RQ and the sweep.

A delivery is stored (``portal.pipeline.intake``) as ``received`` before it
is acknowledged; that row is the request's one durable write. The request
then only ``wake``s the inbox: a ``SET NX`` of a short-lived Redis key, and
one ``jobs.sync.drain_inbox`` job for the first delivery of a burst. The
drain job (on a worker) claims every received row and queues one
``jobs.sync.apply_batch`` job each, in pipelines; the batch jobs then take
up to ``APPLY_BATCH`` deliveries at a time (``portal.pipeline.batches``).
The drain deletes the key before it looks, so a delivery stored after its
last look wakes a new drain. A claim of at most ``APPLY_BATCH`` rows (a
low rate: usually one) is applied in the drain's own job instead
(``apply_here``): one RQ job per booking instead of two; the rows are
``queued`` with no job meanwhile, which the sweep hands on if the worker dies. If Redis is down a delivery stays ``received``
and ``sweep`` hands it on later, as it does for whatever a dead worker left
behind. Applying is safe to run twice.
"""
import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job, JobStatus

from portal.extensions import db
from portal.models import DeliveryState, WebhookDelivery
from portal.queues import get_queue, get_redis
from portal.statement_cache import CachedStatement
from portal.sync.apply import write_transaction
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

APPLY_JOB = "jobs.sync.apply_batch"
DRAIN_JOB = "jobs.sync.drain_inbox"
QUEUE = "sync"
# Set by the first delivery of a burst, deleted by the drain job when it starts: while it is set a
# drain is queued and will see every delivery stored meanwhile. The TTL bounds how long a drain job
# lost with its worker can hold the next burst back (the sweep is the backstop).
WAKE_KEY = "calbridge:inbox:wake"
WAKE_TTL_MS = 5000
# Rows the drain claims and queues per transaction and Redis pipeline.
DRAIN_CHUNK = 500
# A first claim up to this size is applied in the drain's job (an apply job would take as many at once).
APPLY_HERE_MAX = 20
RETRY = dict(max=3, interval=[5, 30, 120])
# After this many attempts a failed delivery is left for support (S2 retry action).
MAX_ATTEMPTS = 8
SWEEP_BATCH = 500
ACTIVE_JOB_STATES = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def job_id(delivery_id):
    return f"delivery-{delivery_id}"


def wake():
    """Make sure a drain job will look at the inbox; False when Redis is unavailable.

    One small round trip per delivery (``SET NX``); the enqueue happens for the
    first delivery of a burst only. Run inline (tests, ``RQ_ASYNC`` off), the
    drain runs at once.
    """
    queue = get_queue(QUEUE)
    try:
        if not queue.is_async:
            queue.enqueue(DRAIN_JOB, description="Hand stored Calendly deliveries to the workers")
            return True
        redis = get_redis()
        if redis.set(WAKE_KEY, b"1", nx=True, px=WAKE_TTL_MS):
            pipe = redis.pipeline()
            # Nobody reads a drain's result: none is stored (RQ's finished registry and result stream).
            queue.enqueue(DRAIN_JOB, pipeline=pipe, result_ttl=0,
                          description="Hand stored Calendly deliveries to the workers")
            pipe.execute()
    except RedisError as exc:
        log.warning("stored deliveries stay in the inbox: Redis unavailable (%s)", exc)
        return False
    return True


def _apply_job(delivery_id):
    return Queue.prepare_data(APPLY_JOB, (delivery_id,), job_id=job_id(delivery_id), retry=Retry(**RETRY),
                              description=_describe(delivery_id))


def drain(apply_here=None):
    """``jobs.sync.drain_inbox``: claim every ``received`` delivery and queue its apply job; returns how many.

    Claiming (``received`` → ``queued``) and queueing go a chunk at a time; a
    row claimed by another drain meanwhile is not queued twice (the write lock
    on SQLite, ``SKIP LOCKED`` on PostgreSQL). If Redis fails after a claim the
    rows go back to ``received`` for the sweep. A first claim of at most
    ``APPLY_HERE_MAX`` rows goes to ``apply_here(ids)`` instead, when given, the
    queue is asynchronous and the sweep cannot take them meanwhile. A claim short of a chunk is the last look: the
    wake key was deleted before the first, so a delivery stored since woke
    another drain.
    """
    redis = get_redis()
    queue = get_queue(QUEUE)
    if queue.is_async:
        redis.delete(WAKE_KEY)  # before looking: a delivery stored from now on wakes another drain
    total = 0
    while True:
        ids, oldest = _claim(DRAIN_CHUNK)
        if not ids:
            return total
        if apply_here is not None and queue.is_async and total == 0 and len(ids) <= APPLY_HERE_MAX \
                and _sweep_cannot_take(oldest):
            apply_here(ids)
            return len(ids)
        hand_to_jobs(ids)
        total += len(ids)
        if len(ids) < DRAIN_CHUNK:
            return total


def hand_to_jobs(ids):
    """Queue one apply job per claimed (``queued``) delivery, in one pipeline; back to ``received`` if Redis fails."""
    queue = get_queue(QUEUE)
    try:
        if queue.is_async:
            pipe = get_redis().pipeline()
            queue.enqueue_many([_apply_job(i) for i in ids], pipeline=pipe)
            pipe.execute()
        else:
            for i in ids:
                queue.enqueue(APPLY_JOB, i, job_id=job_id(i), retry=Retry(**RETRY))
    except RedisError:
        WebhookDelivery.update(state=DeliveryState.RECEIVED).where(
            WebhookDelivery.id.in_(ids) & (WebhookDelivery.state == DeliveryState.QUEUED)).execute()
        raise


def retry_later(delivery_id):
    """A delivery that failed in the drain's job: its apply job, at the moments RQ's ``RETRY`` would have tried it.

    As if it had had its own job from the start: tried again after the first
    interval, then after the others, then left in the failed registry (S2).
    The job is scheduled, so the sweep sees it active meanwhile; if Redis is
    down the delivery stays failed and the sweep retries it.
    """
    first, *rest = RETRY["interval"]
    try:
        get_queue(QUEUE).enqueue_in(timedelta(seconds=first), APPLY_JOB, delivery_id, job_id=job_id(delivery_id),
                                    retry=Retry(max=RETRY["max"] - 1, interval=rest),
                                    description=_describe(delivery_id))
    except RedisError as exc:
        log.warning("delivery %s failed; left to the sweep: Redis unavailable (%s)", delivery_id, exc)


def _received(limit):
    rows = (WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.received_at)
            .where((WebhookDelivery.state == DeliveryState.RECEIVED) & WebhookDelivery.connection.is_null(False)
                   & (WebhookDelivery.attempts < MAX_ATTEMPTS))
            .order_by(WebhookDelivery.id).limit(limit))
    return rows.for_update("FOR UPDATE SKIP LOCKED") if db.obj.for_update else rows


# Every drain runs it: compiled once per database kind (``portal.statement_cache``).
_RECEIVED = CachedStatement(_received, ints=("limit",))


def _claim(limit):
    """``(ids, oldest received_at)`` of the rows claimed (``received`` → ``queued``)."""
    with write_transaction():
        rows = _RECEIVED.rows(limit=limit)
        ids = [i for i, _ in rows]
        if ids:
            WebhookDelivery.update(state=DeliveryState.QUEUED).where(
                WebhookDelivery.id.in_(ids) & (WebhookDelivery.state == DeliveryState.RECEIVED)).execute()
    oldest = min((at for _, at in rows), default=None)
    return ids, oldest


def _sweep_age():
    """How long ago a row must have been received for the sweep to take it (when it has no RQ job)."""
    return timedelta(seconds=current_app.config.get("INBOX_SWEEP_AFTER_SECONDS", 30))


def _describe(delivery_id):
    return f"Apply Calendly delivery {delivery_id}"


def _sweep_cannot_take(received_at):
    """True while rows received at ``received_at`` are too young for the sweep (it takes rows received
    ``INBOX_SWEEP_AFTER_SECONDS`` ago that have no RQ job, as the drain's own rows have none): half that, for the
    drain's job to apply them. Older rows (a drain that waited behind a backlog, or a Redis outage) get apply jobs."""
    return received_at is not None and received_at > utcnow() - _sweep_age() / 2


def enqueue(delivery_id):
    """Hand one delivery to a worker now (the sweep, support's retry); False when Redis is unavailable."""
    queue = get_queue(QUEUE)
    job = dict(job_id=job_id(delivery_id), retry=Retry(**RETRY), description=_describe(delivery_id))
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
        return False
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
    cutoff = now - _sweep_age()
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
