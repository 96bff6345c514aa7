"""A worker SIGKILLed in the middle of a batch of 500 deliveries (SPEC E5, W6).

500 signed deliveries go through the real intake into a private Redis (one
drain job hands them to apply jobs); RQ worker processes start on them one after the other and are killed with
SIGKILL part-way, three times. A last worker takes the rest from the queue,
and the inbox sweeper (run here on the scheduler's beat) hands over the
deliveries the dead workers were applying.
"""
import time

import pytest
from rq import Queue

from portal.models import DeliveryState, Subaccount, WebhookDelivery
from portal.queues import get_redis
from portal.pipeline import inbox
from sync.helpers import booking, envelope, make_connection, post_delivery, select

from .helpers import delivery_states, job_arguments, leaks, redis_texts, tally, wait_until

pytestmark = pytest.mark.reliability

ET = "https://api.calendly.com/event_types/CLEANING"
BATCH = 500
KILL_AFTER = (90, 210, 330)  # applied deliveries at which a worker is killed (three workers in turn)


def stuck():
    """Pending deliveries and where RQ has their jobs (for a timeout's message)."""
    from rq.job import Job
    redis = get_redis()
    queue = Queue("sync", connection=redis)
    out = []
    for d in WebhookDelivery.select().where(WebhookDelivery.state.in_(DeliveryState.PENDING)).limit(5):
        job = Job.fetch_many([f"delivery-{d.id}"], connection=redis)[0]
        out.append((d.id, d.attempts, job and job.get_status(refresh=False),
                    f"delivery-{d.id}" in queue.get_job_ids(),
                    f"delivery-{d.id}".encode() in redis.lrange(queue.intermediate_queue_key, 0, -1)))
    return f"{delivery_states()} pending (id, attempts, job status, in queue, in intermediate queue): {out}"


def applied():
    return WebhookDelivery.select().where(WebhookDelivery.state == DeliveryState.APPLIED).count()


def test_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
        app, app_ctx, people, own_redis, procs, secrets, debug_logs, reliability_report):
    started = time.monotonic()
    app.config.update(REDIS_URL=own_redis.url, INBOX_SWEEP_AFTER_SECONDS=2)
    redis = get_redis()
    ada = people.user("ada@acme.test")
    conn = make_connection(ada, Subaccount.get(name="Acme Dental"), signing_key="kill-test-signing-key")
    select(conn, ET)

    client = app.test_client()
    uris = []
    for n in range(BATCH):
        b = booking(ET, invitee=f"KILL{n}", event=f"EVKILL{n}", email=f"guest{n}@example.com", name=f"Guest {n}")
        assert post_delivery(client, conn, envelope(b)).status_code == 200
        uris.append(b.invitee_uri)
    # The requests stored them and woke the inbox once: one drain job, which the first worker runs.
    assert Queue("sync", connection=redis).count == 1
    assert WebhookDelivery.select().where(WebhookDelivery.state == DeliveryState.RECEIVED).count() == BATCH

    kills, orphans = [], 0
    for n, threshold in enumerate(KILL_AFTER):
        doomed = procs.worker(own_redis.url, f"doomed-worker-{n}")
        wait_until(lambda: applied() >= threshold, timeout=60, interval=0.02, message=f"worker {n} to get going")
        procs.kill(doomed)
        kills.append(applied())
        queued = set(Queue("sync", connection=redis).get_job_ids())
        orphans += sum(1 for d in WebhookDelivery.select(WebhookDelivery.id).where(
            WebhookDelivery.state.in_(DeliveryState.PENDING)) if f"delivery-{d.id}" not in queued)
    assert kills[-1] < BATCH, "the workers finished before they could be killed: not a mid-batch kill"

    procs.worker(own_redis.url, "rescue-worker")
    wait_until(lambda: applied() == BATCH, timeout=40, interval=0.25, tick=inbox.sweep,
               message=f"all {BATCH} deliveries applied", describe=stuck)

    figures = tally(uris)
    assert figures["missing"] == [] and figures["duplicated"] == 0
    assert figures["appointments"] == BATCH
    assert WebhookDelivery.select().where(WebhookDelivery.state != DeliveryState.APPLIED).count() == 0

    # Nothing secret in the job payloads, the workers' logs or the portal's log records.
    secrets.from_connections()
    places = {**redis_texts(redis), **job_arguments(redis), **procs.logs(), "portal log records": debug_logs.text}
    assert leaks(secrets, places) == []

    reliability_report.record(
        "Worker SIGKILLed mid-batch", sent=BATCH, faults="worker SIGKILL", faults_injected=len(kills),
        appointments=figures["appointments"], lost=figures["lost"], duplicated=figures["duplicated"],
        seconds=time.monotonic() - started,
        notes=[f"workers killed after {', '.join(map(str, kills))} of {BATCH} applied; {orphans} deliveries "
               "the dead workers held (running or claimed, no longer queued) handed over by the inbox sweeper"],
    )
