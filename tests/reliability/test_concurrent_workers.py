"""Workers racing for the same deliveries (SPEC W6, O2, E2): separate processes, started together.

Two scenarios, each with a barrier so that no contender starts before all
are up, and each asserting that every contender really got work (a race
one process wins alone proves nothing):

- two processes take batches off the same queued delivery jobs
  (``batches.claim_queued``): every delivery is claimed exactly once;
- a collective calendar shared by Ada and Bob: Calendly sends every booking
  to both of their subscriptions; three RQ worker processes are listening
  (registered and idle) before the drain hands all deliveries over at once,
  so the two deliveries of one booking are applied by different workers at
  the same time. The unique index decides: one appointment per booking with
  both connections as its sources, one contact per guest, one owner.
"""
import json
import os
import subprocess
import time

import pytest
from peewee import fn
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FinishedJobRegistry

from portal.models import (
    Appointment,
    AppointmentSource,
    Contact,
    DeliveryState,
    Outcome,
    Subaccount,
    SyncDecision,
    WebhookDelivery,
)
from portal.pipeline import inbox
from portal.queues import get_redis
from sync.helpers import booking, envelope, make_connection, post_delivery, select

from .helpers import delivery_states, python, tally, wait_until

pytestmark = pytest.mark.reliability

ET = "https://api.calendly.com/event_types/CLEANING"
TEAM = "https://api.calendly.com/event_types/TEAM"
BOOKINGS = 150
WORKERS = 3
CLAIM_SCRIPT = os.path.join(os.path.dirname(__file__), "claim_worker.py")


def post_and_drain(client, conn_bodies):
    """POST each ``(connection, body)``, then hand everything to apply jobs at once (the drain job's work)."""
    for c, body in conn_bodies:
        assert post_delivery(client, c, body).status_code == 200
    Queue("sync", connection=get_redis()).empty()  # the drain job the requests woke: run here instead
    return inbox.drain()


def test_two_workers_never_claim_the_same_delivery(app, app_ctx, people, own_redis, procs, tmp_path):
    app.config["REDIS_URL"] = own_redis.url
    ada = people.user("ada@acme.test")
    conn = make_connection(ada, Subaccount.get(name="Acme Dental"), signing_key="claim-signing-key")
    select(conn, ET, "Cleaning")
    count = 400
    bodies = [(conn, envelope(booking(ET, invitee=f"C{n}", event=f"EC{n}", email=f"g{n}@example.com")))
              for n in range(count)]
    assert post_and_drain(app.test_client(), bodies) == count

    contenders = []
    for n in range(2):
        log = open(tmp_path / f"claimer-{n}.log", "w+")
        contenders.append(subprocess.Popen([python(), CLAIM_SCRIPT, "4"], env=procs.env(own_redis.url),
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True))
    for p in contenders:  # the barrier: both are up and connected before either claims
        assert p.stdout.readline().strip() == "ready", "a contender did not start"
    for p in contenders:
        p.stdin.write("go\n")
        p.stdin.flush()
    claimed = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in contenders]

    ids = [d.id for d in WebhookDelivery.select(WebhookDelivery.id)]
    first, second = set(claimed[0]), set(claimed[1])
    assert first and second, f"one process claimed everything ({len(first)} / {len(second)}): no race happened"
    assert first.isdisjoint(second), f"claimed by both: {sorted(first & second)[:10]}"
    assert len(claimed[0]) + len(claimed[1]) == count and first | second == set(ids)
    assert Queue("sync", connection=get_redis()).count == 0


def test_two_deliveries_of_each_booking_applied_in_parallel_make_one_appointment(
        app, app_ctx, people, own_redis, procs, reliability_report):
    started = time.monotonic()
    app.config["REDIS_URL"] = own_redis.url
    redis = get_redis()
    sub = Subaccount.get(name=people.subaccount().name)
    ada, bob = people.user("ada@acme.test"), people.user("bob@acme.test")
    conns = [make_connection(ada, sub, signing_key="ada-key"), make_connection(bob, sub, signing_key="bob-key")]
    for c in conns:
        select(c, TEAM, "Team consult", shared=True)

    bodies, uris = [], []
    for n in range(BOOKINGS):
        b = booking(TEAM, invitee=f"TEAM{n}", event=f"EVTEAM{n}", email=f"patient{n}@example.com",
                    name=f"Patient {n}", guest_emails=("front-desk@example.com",))
        bodies += [(c, envelope(b)) for c in conns]  # Calendly delivers the same booking to both subscriptions
        uris.append(b.invitee_uri)
    for c, body in bodies:
        assert post_delivery(app.test_client(), c, body).status_code == 200
    Queue("sync", connection=redis).empty()  # the drain job: the test runs it once every worker listens

    names = [f"parallel-worker-{n}" for n in range(WORKERS)]
    for name in names:
        procs.worker(own_redis.url, name)
    # The barrier: every worker is registered and idle (waiting on the queue) before any work exists.
    wait_until(lambda: sum(1 for w in Worker.all(connection=redis) if w.name in names and w.get_state() == "idle")
               == WORKERS, timeout=60, message="every worker listening")
    assert inbox.drain() == 2 * BOOKINGS  # all apply jobs appear at once (one pipeline)
    wait_until(lambda: WebhookDelivery.select().where(WebhookDelivery.state == DeliveryState.APPLIED).count()
               == 2 * BOOKINGS, timeout=120, interval=0.25, describe=delivery_states,
               message="every delivery applied")

    finished = FinishedJobRegistry("sync", connection=redis).get_job_ids()
    by_worker = {}
    for job in Job.fetch_many(finished, connection=redis):
        if job is not None and job.worker_name:
            by_worker[job.worker_name] = by_worker.get(job.worker_name, 0) + 1
    assert len(by_worker) >= 2, f"apply jobs by worker: {by_worker}: the workers did not race"

    figures = tally(uris)
    assert figures["missing"] == [] and figures["duplicated"] == 0
    assert Appointment.select().count() == BOOKINGS
    two_sources = (AppointmentSource.select(AppointmentSource.appointment).group_by(AppointmentSource.appointment)
                   .having(fn.COUNT(AppointmentSource.id) == 2).count())
    assert two_sources == BOOKINGS
    assert Contact.select().count() == BOOKINGS + 1  # each patient, and the one front desk guest
    imports = SyncDecision.select().where(SyncDecision.outcome == Outcome.IMPORTED).count()
    assert imports == BOOKINGS
    assert {a.owner_id for a in Appointment.select()} <= {ada.id, bob.id}

    reliability_report.record(
        "Two connections, three workers in parallel", sent=BOOKINGS,
        faults="each booking delivered twice, applied concurrently", faults_injected=BOOKINGS,
        appointments=figures["appointments"], lost=figures["lost"], duplicated=figures["duplicated"],
        seconds=time.monotonic() - started,
        notes=[f"{2 * BOOKINGS} deliveries applied by {WORKERS} worker processes, all listening before the "
               f"work appeared; apply jobs per worker {sorted(by_worker.values(), reverse=True)}: {BOOKINGS} "
               "appointments, each with both connections as sources, one contact per guest"],
    )
