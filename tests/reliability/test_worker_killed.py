"""A worker SIGKILLed in the middle of a batch of 500 deliveries (SPEC E5, W6).

500 signed deliveries go through the real intake into a private Redis; an RQ
worker process starts on them and is killed with SIGKILL part-way. A second
worker takes the rest from the queue, and the inbox sweeper (run here on the
scheduler's beat) hands over the delivery the dead worker was applying.
"""
import time

import pytest
from rq import Queue

from portal.models import DeliveryState, Subaccount, WebhookDelivery
from portal.queues import get_redis
from portal.sync import inbox
from sync.helpers import booking, envelope, make_connection, post_delivery, select

from .helpers import delivery_states, job_arguments, leaks, redis_texts, tally, wait_until

pytestmark = pytest.mark.reliability

ET = "https://api.calendly.com/event_types/CLEANING"
BATCH = 500


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
    assert Queue("sync", connection=redis).count == BATCH

    doomed = procs.worker(own_redis.url, "doomed-worker")
    wait_until(lambda: applied() >= BATCH // 5, timeout=60, interval=0.02, message="the first worker to get going")
    procs.kill(doomed)
    at_kill = applied()
    assert at_kill < BATCH, "the worker finished before it could be killed: not a mid-batch kill"
    left_started = list(Queue("sync", connection=redis).started_job_registry.get_job_ids())

    procs.worker(own_redis.url, "rescue-worker")
    wait_until(lambda: applied() == BATCH, timeout=90, interval=0.25, tick=inbox.sweep,
               message=f"all {BATCH} deliveries applied", describe=delivery_states)

    figures = tally(uris)
    assert figures["missing"] == [] and figures["duplicated"] == 0
    assert figures["appointments"] == BATCH
    assert WebhookDelivery.select().where(WebhookDelivery.state != DeliveryState.APPLIED).count() == 0

    # Nothing secret in the job payloads, the workers' logs or the portal's log records.
    secrets.from_connections()
    places = {**redis_texts(redis), **job_arguments(redis), **procs.logs(), "portal log records": debug_logs.text}
    assert leaks(secrets, places) == []

    reliability_report.record(
        "Worker SIGKILLed mid-batch", sent=BATCH, faults="worker SIGKILL", faults_injected=1,
        appointments=figures["appointments"], lost=figures["lost"], duplicated=figures["duplicated"],
        seconds=time.monotonic() - started,
        notes=[f"killed after {at_kill} of {BATCH} applied; jobs left started by the dead worker: "
               f"{len(left_started)}, handed over again by the inbox sweeper"],
    )
