"""The console's only two actions, and what they act on: failed work and resyncs (SPEC S2).

Failed work of a connection is its inbox rows in state ``failed`` plus the
RQ jobs in a ``FailedJobRegistry`` that belong to it: by job id
(``reconcile-<id>``, ``backfill-<id>``, ``delivery-<delivery id>``) or by
their arguments (``reconcile_connection(id)``, ``apply_batch(delivery id)``).
"""
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from portal.models import DeliveryState, WebhookDelivery
from portal.queues import QUEUE_NAMES, get_queue, get_redis
from portal.support.redaction import redact
from portal.pipeline import inbox, reconcile
from portal.timeutil import parse_iso

# Jobs whose first argument is a connection id, and the one whose first
# argument is a delivery id (enqueued by dotted path, see jobs/sync.py).
CONNECTION_JOBS = (reconcile.RECONCILE_JOB, reconcile.BACKFILL_JOB)
DELIVERY_JOB = inbox.APPLY_JOB
ACTIVE = reconcile.ACTIVE_JOB_STATES
# How many failed jobs per queue the console looks through (newest first).
SCAN_LIMIT = 1000


def reconcile_job_id(connection_id):
    return f"reconcile-{connection_id}"


def backfill_job_id(connection_id):
    return f"backfill-{connection_id}"


@dataclass
class FailedJob:
    queue: str
    job_id: str
    func_name: str
    error: str  # the exception's last line, redacted
    traceback: str  # redacted
    failed_at: object


def queue_stats():
    """Depth and failed count per RQ queue, or None when Redis cannot be reached."""
    try:
        stats = {}
        for name in QUEUE_NAMES:
            queue = get_queue(name)
            stats[name] = {"depth": queue.count, "failed": FailedJobRegistry(queue=queue).count,
                           "running": queue.started_job_registry.count}
        return stats
    except RedisError:
        return None


def job_states(connection_id):
    """The RQ status of this connection's reconcile and backfill jobs, if any."""
    states = {}
    for kind, job_id in (("reconcile", reconcile_job_id(connection_id)), ("backfill", backfill_job_id(connection_id))):
        try:
            states[kind] = Job.fetch(job_id, connection=get_redis()).get_status()
        except NoSuchJobError:
            states[kind] = None
    return states


def failed_deliveries(connection, secrets=()):
    rows = list(
        WebhookDelivery.select(
            WebhookDelivery.id, WebhookDelivery.received_at, WebhookDelivery.event, WebhookDelivery.invitee_uri,
            WebhookDelivery.state, WebhookDelivery.error, WebhookDelivery.attempts,
        )
        .where((WebhookDelivery.connection == connection.id) & (WebhookDelivery.state == DeliveryState.FAILED))
        .order_by(WebhookDelivery.received_at.desc())
        .limit(200)
    )
    for row in rows:
        row.error = redact(row.error, secrets)
    return rows


def failed_jobs(connection, secrets=()):
    """RQ's failed jobs that belong to ``connection``, newest first."""
    redis = get_redis()
    found = []
    for name in QUEUE_NAMES:
        registry = FailedJobRegistry(name, connection=redis)
        ids = registry.get_job_ids(0, SCAN_LIMIT - 1, desc=True)
        jobs = [j for j in Job.fetch_many(ids, connection=redis) if j is not None]
        delivery_ids = {j.args[0] for j in jobs if j.func_name == DELIVERY_JOB and j.args}
        delivery_ids |= {_delivery_id_of(j.id) for j in jobs} - {None}
        mine = set()
        if delivery_ids:
            mine = {
                d.id for d in WebhookDelivery.select(WebhookDelivery.id).where(
                    WebhookDelivery.id.in_(list(delivery_ids)) & (WebhookDelivery.connection == connection.id)
                )
            }
        for job in jobs:
            if _belongs(job, connection.id, mine):
                found.append(_describe(name, job, secrets))
    found.sort(key=lambda f: (f.failed_at is not None, f.failed_at or datetime.min), reverse=True)
    return found


def _delivery_id_of(job_id):
    prefix = "delivery-"
    if job_id.startswith(prefix) and job_id[len(prefix):].isdigit():
        return int(job_id[len(prefix):])
    return None


def _belongs(job, connection_id, delivery_ids):
    if job.id in (reconcile_job_id(connection_id), backfill_job_id(connection_id)):
        return True
    if _delivery_id_of(job.id) in delivery_ids:
        return True
    first = job.args[0] if job.args else job.kwargs.get("connection_id", job.kwargs.get("delivery_id"))
    if job.func_name in CONNECTION_JOBS:
        return first == connection_id
    if job.func_name == DELIVERY_JOB:
        return first in delivery_ids
    return job.kwargs.get("connection_id") == connection_id


def _describe(queue_name, job, secrets):
    result = job.latest_result()
    tb = (result.exc_string if result is not None else None) or ""
    tb = redact(tb, secrets)
    lines = [line for line in tb.strip().splitlines() if line.strip()]
    return FailedJob(queue_name, job.id, job.func_name or "", lines[-1] if lines else "Failed without an error message",
                     tb, parse_iso(job.ended_at))


def resync(connection):
    """Enqueue a reconciliation of ``connection`` now; False if one is already queued or running."""
    return reconcile.enqueue_once(reconcile.RECONCILE_JOB, connection.id)


def retry_delivery(delivery):
    """Put a failed delivery back in the inbox and hand it to a worker again.

    Its exhausted RQ job leaves the failed registry first, so the delivery is
    not listed twice; if Redis is down it stays ``received`` for the sweeper.
    """
    delivery.state = DeliveryState.RECEIVED
    delivery.error = None
    delivery.save(only=[WebhookDelivery.state, WebhookDelivery.error])
    try:
        FailedJobRegistry(inbox.QUEUE, connection=get_redis()).remove(inbox.job_id(delivery.id))
    except RedisError:
        return False
    return inbox.enqueue(delivery.id)


def retry_job(connection, job_id):
    """Requeue one of the connection's failed RQ jobs; None if it is not one of them."""
    for failed in failed_jobs(connection):
        if failed.job_id == job_id:
            return Job.fetch(job_id, connection=get_redis()).requeue()
    return None
