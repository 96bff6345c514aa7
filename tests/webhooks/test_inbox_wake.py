"""A served portal wakes the inbox from a thread of its own (``portal.pipeline.inbox_wake``).

The request only stores the delivery and sets a flag; the web process's
wake-up thread sends the signal, so a burst costs no Redis round trip per
delivery, no delivery is left without a drain, and Redis being down slows
no request.
"""
import time

import pytest
from rq import Queue

from portal.models import DeliveryState, Subaccount, WebhookDelivery
from portal.pipeline import inbox, inbox_wake
from portal.queues import get_redis
from sync.helpers import booking, envelope, make_connection, post_delivery, select

ET = "https://api.calendly.com/event_types/CLEANING"

pytestmark = pytest.mark.portal_config(INBOX_WAKE_IN_BACKGROUND=True)


@pytest.fixture
def conn(private_redis, app_ctx, people):
    ada = people.user("ada@acme.test")
    c = make_connection(ada, Subaccount.get(name="Acme Dental"), signing_key="wake-key")
    select(c, ET, "Cleaning")
    return c


def drain_jobs():
    return [j for j in Queue("sync", connection=get_redis()).get_jobs() if j.func_name == inbox.DRAIN_JOB]


def poll(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_burst_stored_by_the_requests_is_handed_on_by_one_drain_woken_from_the_thread(client, conn):
    for n in range(30):
        assert post_delivery(client, conn, envelope(booking(ET, invitee=f"W{n}", event=f"EW{n}"))).status_code == 200
    assert poll(lambda: len(drain_jobs()) == 1), "no drain job was queued"
    assert WebhookDelivery.select().where(WebhookDelivery.state == DeliveryState.RECEIVED).count() == 30
    Queue("sync", connection=get_redis()).empty()
    assert inbox.drain() == 30
    # A delivery after the drain started is not missed: the thread wakes the inbox again.
    post_delivery(client, conn, envelope(booking(ET, invitee="AFTER", event="EAFTER")))
    assert poll(lambda: len(drain_jobs()) == 1), "the delivery after the drain woke nothing"
    assert inbox.drain() == 1


def test_with_redis_down_requests_are_answered_and_the_thread_wakes_the_inbox_once_it_is_back(client, conn, app):
    good = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    assert post_delivery(client, conn, envelope(booking(ET, invitee="DOWN", event="EDOWN"))).status_code == 200
    waker = inbox_wake.waker()
    assert poll(lambda: not waker.pending.is_set()), "the thread did not try"
    assert WebhookDelivery.get().state == DeliveryState.RECEIVED
    app.config["REDIS_URL"] = good
    assert post_delivery(client, conn, envelope(booking(ET, invitee="BACK", event="EBACK"))).status_code == 200
    assert poll(lambda: len(drain_jobs()) == 1), "no drain after Redis came back"
    assert inbox.drain() == 2  # the one stored while Redis was down too
    assert waker.thread.is_alive()
