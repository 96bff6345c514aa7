"""Redis stopped for 30 seconds while bookings keep arriving (SPEC E5, W6, C7).

The sandbox keeps booking and sending signed webhooks to a gunicorn portal
whose Redis is down: the intake stores every delivery in the database inbox
and answers 2xx at once. The Redis that comes back is empty (no
persistence), so every job queued before the outage is gone too; ``make
run``'s workers and scheduler ride out the outage in the same processes
(nothing restarted), and the scheduler's inbox sweep hands everything over
again for the workers to apply, each booking once.
"""
import time

import pytest

from portal import restarts
from portal.models import DeliveryState, WebhookDelivery

from .helpers import Booker, delivery_states, job_arguments, leaks, redis_texts, tally, wait_until
from portal.queues import get_redis

pytestmark = pytest.mark.reliability

OUTAGE_SECONDS = 30


def imported(uris):
    return lambda: tally(uris)["lost"] == 0


def test_redis_outage_loses_no_booking_and_the_intake_keeps_answering(
        private_live, supervised_jobs, own_redis, sandbox, procs, stack, secrets, debug_logs, reliability_report):
    started = time.monotonic()
    pids = supervised_jobs.pids()
    booker = Booker(sandbox, private_live.cleaning["uri"])
    booker.book(5)
    wait_until(imported(booker.uris), timeout=20, message="the bookings before the outage")

    own_redis.stop()
    outage_began = time.monotonic()
    while time.monotonic() - outage_began < OUTAGE_SECONDS:
        booker.book()
        time.sleep(0.4)
    during = booker.uris[5:]
    # The sandbox has delivered every one of them (the intake does not need Redis to answer).
    wait_until(lambda: WebhookDelivery.select().where(WebhookDelivery.invitee_uri.in_(during)).count()
               == len(during), timeout=15, message="the deliveries made during the outage")
    held = WebhookDelivery.select().where(WebhookDelivery.invitee_uri.in_(during)
                                          & (WebhookDelivery.state == DeliveryState.RECEIVED)).count()
    assert supervised_jobs.pids() == pids, "a worker or the scheduler died with Redis"
    own_redis.start()  # same port, empty: whatever was queued before is lost from Redis

    booker.book(5)
    wait_until(imported(booker.uris), timeout=90, interval=0.5, describe=delivery_states,
               message="every booking imported after Redis came back")
    assert supervised_jobs.pids() == pids and restarts.read(stack["instance"])["processes"] == [], \
        "a worker or the scheduler had to be restarted instead of reconnecting"

    attempts = [a for a in sandbox.deliveries() if a["invitee"] in set(booker.uris)]
    refused = [a for a in attempts if not (a["status_code"] and 200 <= a["status_code"] < 300)]
    assert refused == [], f"the intake did not answer 2xx: {refused[:3]}"
    assert {a["invitee"] for a in attempts} == set(booker.uris) and all(a["attempt"] == 1 for a in attempts)

    figures = tally(booker.uris)
    assert figures["missing"] == [] and figures["duplicated"] == 0
    assert WebhookDelivery.select().where(WebhookDelivery.state == DeliveryState.APPLIED).count() == len(booker.uris)

    secrets.from_connections()
    redis = get_redis()
    places = {**redis_texts(redis), **job_arguments(redis), **procs.logs(), "portal log records": debug_logs.text,
              **{s.name: open(s.log_path, errors="replace").read() for s in supervised_jobs.services}}
    assert leaks(secrets, places) == []

    reliability_report.record(
        "Redis stopped 30 s", sent=len(booker.uris), faults=f"Redis down {OUTAGE_SECONDS} s, restarted empty",
        faults_injected=1, appointments=figures["appointments"], lost=figures["lost"],
        duplicated=figures["duplicated"], seconds=time.monotonic() - started,
        notes=[f"{len(during)} bookings arrived while Redis was down; all answered 2xx at the first attempt, "
               f"{held} held in the inbox and handed to the workers by the scheduler's sweep; the workers and the "
               "scheduler reconnected by themselves (no restart)"],
    )
