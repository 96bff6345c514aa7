"""The same bookings through two connections, applied by three workers at once (SPEC W6, O2, E2).

A collective calendar shared by Ada and Bob: Calendly sends every booking to
both of their subscriptions. All deliveries wait in the queue, then three
RQ worker processes start together, so the two deliveries of one booking
are applied at the same moment by different workers. The unique index
decides the race: one appointment per booking with both connections as its
sources, one contact per guest, one owner chosen once.
"""
import time

import pytest
from peewee import fn
from rq import Queue

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
from portal.queues import get_redis
from sync.helpers import booking, envelope, make_connection, post_delivery, select

from .helpers import delivery_states, tally, wait_until

pytestmark = pytest.mark.reliability

TEAM = "https://api.calendly.com/event_types/TEAM"
BOOKINGS = 150
WORKERS = 3


def test_two_deliveries_of_each_booking_applied_in_parallel_make_one_appointment(
        app, app_ctx, people, own_redis, procs, reliability_report):
    started = time.monotonic()
    app.config["REDIS_URL"] = own_redis.url
    sub = Subaccount.get(name=people.subaccount().name)
    ada, bob = people.user("ada@acme.test"), people.user("bob@acme.test")
    conns = [make_connection(ada, sub, signing_key="ada-key"), make_connection(bob, sub, signing_key="bob-key")]
    for c in conns:
        select(c, TEAM, "Team consult", shared=True)

    client = app.test_client()
    uris = []
    for n in range(BOOKINGS):
        b = booking(TEAM, invitee=f"TEAM{n}", event=f"EVTEAM{n}", email=f"patient{n}@example.com",
                    name=f"Patient {n}", guest_emails=("front-desk@example.com",))
        body = envelope(b)
        for c in conns:  # Calendly delivers the same booking to both subscriptions
            assert post_delivery(client, c, body).status_code == 200
        uris.append(b.invitee_uri)
    assert Queue("sync", connection=get_redis()).count == 2 * BOOKINGS

    for n in range(WORKERS):
        procs.worker(own_redis.url, f"parallel-worker-{n}")
    wait_until(lambda: WebhookDelivery.select().where(WebhookDelivery.state == DeliveryState.APPLIED).count()
               == 2 * BOOKINGS, timeout=120, interval=0.25, describe=delivery_states,
               message="every delivery applied")

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
        notes=[f"{2 * BOOKINGS} deliveries applied by {WORKERS} worker processes: {BOOKINGS} appointments, "
               "each with both connections as sources, one contact per guest"],
    )
