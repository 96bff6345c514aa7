"""Figure 3: bookings applied per second by RQ workers from a pre-filled inbox.

The inbox is filled while no worker runs (rows in state ``queued`` and one
``jobs.sync.apply_batch`` job each, as the intake's drain job leaves them);
then the workers start and the clock runs from the first job taken to the
last delivery applied (``benchmarks.gate`` holds every worker until the
clock starts, so none has a head start). The reference is the same number of jobs of
``benchmarks.noop.noop`` through the same workers: it claims the same
batches (up to ``APPLY_BATCH`` deliveries a job) and acknowledges them in
one write, so the ratio is the cost of the sync rules and the appointment
writes. 1 and 2 workers are measured to show scale-out (SPEC R3).
"""
import time

from redis import Redis
from rq import Queue
from rq.registry import StartedJobRegistry

from portal.extensions import db
from portal.models import DeliveryState, WebhookDelivery
from portal.pipeline import inbox

from . import data, gate

GOAL = "≥ 300/s and ≥ 50% of the no-op job rate"
NOOP_JOB = "benchmarks.noop.noop"


def _drained(queue, redis):
    return queue.count == 0 and StartedJobRegistry(queue.name, connection=redis).count == 0


def measure(stack, conn, count, workers, *, noop=False, first=0, timeout=600, database_url=None):
    """Fill, start ``workers``, time the drain, stop them; returns jobs (or bookings) per second."""
    redis = Redis.from_url(stack.redis.url)
    queue = Queue(inbox.QUEUE, connection=redis)
    queue.empty()
    with db.connection_context():
        ids = data.prefill_inbox(conn, count, first=first, job=NOOP_JOB if noop else "jobs.sync.apply_batch")
    gates = gate.close(queue, workers)
    try:
        stack.start_workers(workers, database_url=database_url)
        began = gate.open_when_taken(queue, gates)
        deadline = began + timeout
        while time.monotonic() < deadline:
            if _drained(queue, redis) and _all_applied(conn):
                break
            time.sleep(0.02)
        else:
            raise TimeoutError(f"{count} jobs were not done within {timeout} s")
        seconds = time.monotonic() - began
        stack.note_peaks()
    finally:
        stack.stop_workers()
    failed = 0 if noop else _failed(conn)
    with db.connection_context():
        # Anything the no-op did not acknowledge is marked too, so later steps see a clean inbox.
        WebhookDelivery.update(state=DeliveryState.SKIPPED, error="bench: no-op reference").where(
            (WebhookDelivery.connection == conn.id) & (WebhookDelivery.state == DeliveryState.QUEUED)).execute()
    return {"jobs": len(ids), "seconds": round(seconds, 2), "rate_per_s": round(len(ids) / seconds, 1),
            "failed": failed}


def _all_applied(conn):
    with db.connection_context():
        return not WebhookDelivery.select().where(
            (WebhookDelivery.connection == conn.id) & WebhookDelivery.state.in_(DeliveryState.PENDING)).exists()


def _failed(conn):
    with db.connection_context():
        return WebhookDelivery.select().where(
            (WebhookDelivery.connection == conn.id) & (WebhookDelivery.state == DeliveryState.FAILED)).count()
