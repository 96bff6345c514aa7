"""One apply job takes the deliveries queued behind it (SPEC E5, W6): RQ's per-job cost is paid once per batch.

Found by ``make bench`` (figure 3): one RQ job per booking capped the apply
rate at the rate of empty jobs. Each delivery is still applied exactly once,
whichever worker wins its job, and a failure in the batch is left to the
inbox sweep.
"""
import json
import time
from datetime import timedelta

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from jobs.sync import apply_batch, drain_inbox
from portal.models import Appointment, Contact, DeliveryState, DomainEvent, Subaccount, WebhookDelivery
from portal.queues import get_redis
from portal.pipeline import batches, inbox
from portal.timeutil import utcnow
from sync.helpers import booking, envelope, make_connection, post_delivery, select

ET = "https://api.calendly.com/event_types/CLEANING"


@pytest.fixture
def conn(private_redis, app_ctx, people):
    ada = people.user("ada@acme.test")
    c = make_connection(ada, Subaccount.get(name="Acme Dental"), signing_key="per-connection-key")
    select(c, ET, "Cleaning")
    return c


def deliver(client, conn, count):
    """Post ``count`` bookings and run the drain job they woke: one apply job each is then queued."""
    for n in range(count):
        b = booking(ET, invitee=f"I{n}", event=f"E{n}", email=f"guest{n}@example.com")
        assert post_delivery(client, conn, envelope(b)).status_code == 200
    (drain,) = sync_queue().get_jobs()
    assert drain.func_name == inbox.DRAIN_JOB
    sync_queue().remove(drain)  # what a worker does when it takes the drain job
    assert inbox.drain() == count
    return [d.id for d in WebhookDelivery.select().order_by(WebhookDelivery.id)]


def sync_queue():
    return Queue("sync", connection=get_redis())


def test_one_job_applies_the_deliveries_queued_behind_it_once(client, conn):
    ids = deliver(client, conn, 5)
    assert sync_queue().get_job_ids() == [f"delivery-{i}" for i in ids]
    sync_queue().remove(f"delivery-{ids[0]}")  # what a worker does when it takes the first job

    assert apply_batch(ids[0]) == "imported"

    assert Appointment.select().count() == 5
    assert {d.state for d in WebhookDelivery.select()} == {DeliveryState.APPLIED}
    # The jobs it took are gone: no worker applies them a second time, nothing lingers in Redis.
    assert sync_queue().get_job_ids() == []
    assert not any(Job.exists(f"delivery-{i}", connection=get_redis()) for i in ids[1:])


def test_a_batch_is_capped_and_the_rest_stays_queued(client, conn):
    ids = deliver(client, conn, 4)
    sync_queue().remove(f"delivery-{ids[0]}")
    batches.apply_batch(ids[0], limit=2)
    states = [WebhookDelivery.get_by_id(i).state for i in ids]
    assert states == [DeliveryState.APPLIED, DeliveryState.APPLIED, DeliveryState.QUEUED, DeliveryState.QUEUED]
    assert sync_queue().get_job_ids() == [f"delivery-{i}" for i in ids[2:]]


def test_claims_take_batches_in_queue_order_and_never_the_same_delivery_twice(client, conn):
    # In one process, one claim after the other; two processes racing: tests/reliability/test_concurrent_workers.py
    ids = deliver(client, conn, 6)
    first, second = batches.claim_queued(4), batches.claim_queued(4)
    assert first == ids[:4] and second == ids[4:]
    assert batches.claim_queued(4) == []


def fail_for(monkeypatch, email):
    """``apply_booking`` raising for the guest ``email`` (the database gone for that one); returns the real one."""
    real = batches.apply_booking

    def flaky(connection, b, via, delivery=None):
        if b.email == email:
            raise RuntimeError("database went away")
        return real(connection, b, via, delivery=delivery)

    monkeypatch.setattr(batches, "apply_booking", flaky)
    return real


def test_a_failure_in_the_batch_is_left_to_the_sweep_and_the_rest_is_applied(client, conn, monkeypatch):
    ids = deliver(client, conn, 3)
    sync_queue().remove(f"delivery-{ids[0]}")
    fail_for(monkeypatch, "guest1@example.com")
    apply_batch(ids[0])
    states = {i: WebhookDelivery.get_by_id(i) for i in ids}
    assert states[ids[0]].state == states[ids[2]].state == DeliveryState.APPLIED
    assert (states[ids[1]].state, states[ids[1]].error) == (DeliveryState.FAILED, "RuntimeError: database went away")
    assert Appointment.select().count() == 2


def test_a_stored_delivery_is_queued_by_the_drain_or_stays_received_when_redis_is_down(client, conn, app):
    deliver(client, conn, 1)
    assert WebhookDelivery.get().state == DeliveryState.QUEUED
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    b = booking(ET, invitee="I9", event="E9", email="late@example.com")
    assert post_delivery(client, conn, envelope(b)).status_code == 200
    late = WebhookDelivery.select().order_by(WebhookDelivery.id.desc()).get()
    assert late.state == DeliveryState.RECEIVED


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside the batch: nothing after it runs, the transaction is lost."""


def test_a_delivery_that_kills_the_worker_does_not_take_the_rest_of_its_batch_down_again(client, conn, monkeypatch):
    ids = deliver(client, conn, 3)
    real = batches.apply_booking

    def deadly(connection, b, via, delivery=None):
        if b.email == "guest1@example.com":
            raise WorkerKilled()
        return real(connection, b, via, delivery=delivery)

    monkeypatch.setattr(batches, "apply_booking", deadly)
    with pytest.raises(WorkerKilled):
        batches.apply_many(ids)
    # The whole batch was lost with the worker, but each attempt was counted.
    assert [(d.state, d.attempts) for d in WebhookDelivery.select().order_by(WebhookDelivery.id)] == [
        (DeliveryState.QUEUED, 1)] * 3
    assert Appointment.select().count() == 0

    # The sweep hands them over again: now each goes alone, and the deadly one no longer undoes the others.
    for retry in ([ids[2], ids[1]], [ids[0], ids[1]]):
        with pytest.raises(WorkerKilled):
            batches.apply_many(retry)
    states = {d.id: d.state for d in WebhookDelivery.select()}
    assert states == {ids[0]: DeliveryState.APPLIED, ids[1]: DeliveryState.QUEUED, ids[2]: DeliveryState.APPLIED}
    assert sorted(a.contact.email for a in Appointment.select()) == ["guest0@example.com", "guest2@example.com"]


# An invalid Unicode surrogate in a name is replaced with U+FFFD, not fatal (issue 12, item 6).
def test_a_lone_surrogate_in_the_guests_name_and_the_title_is_replaced_and_the_booking_applied(client, conn):
    body = envelope(booking(ET, name="Zoë \ud800Broken", title="Visit \udfff"))
    raw = json.dumps(body).encode()  # JSON escapes it as \\ud800: valid JSON, not valid Unicode
    assert b"\\ud800" in raw
    assert post_delivery(client, conn, raw).status_code == 200
    delivery = WebhookDelivery.get()
    assert apply_batch(delivery.id) == "imported"
    assert WebhookDelivery.get_by_id(delivery.id).state == DeliveryState.APPLIED
    assert Contact.get().name == "Zoë \ufffdBroken"
    assert Appointment.get().title == "Visit \ufffd"


def take_drain_job(client, conn, count):
    """Post ``count`` bookings and take the one drain job they woke off the queue, as a worker does."""
    for n in range(count):
        b = booking(ET, invitee=f"D{n}", event=f"DE{n}", email=f"drained{n}@example.com")
        assert post_delivery(client, conn, envelope(b)).status_code == 200
    (drain,) = sync_queue().get_jobs()
    sync_queue().remove(drain)


# At a low rate the drain job applies what it claimed itself: one RQ job per booking, not three (issue: worker CPU).
def test_the_drain_job_applies_a_small_claim_itself_and_marks_its_events_matched(client, conn):
    take_drain_job(client, conn, 2)
    assert drain_inbox() == 2
    assert [d.state for d in WebhookDelivery.select()] == [DeliveryState.APPLIED] * 2
    assert Appointment.select().count() == 2
    assert sync_queue().count == 0 and Queue("default", connection=get_redis()).count == 0  # no apply or match job
    assert DomainEvent.select().where(DomainEvent.matched_at.is_null()).count() == 0


def test_a_claim_larger_than_a_batch_still_goes_to_apply_jobs(client, conn):
    take_drain_job(client, conn, inbox.APPLY_HERE_MAX + 1)
    assert drain_inbox() == inbox.APPLY_HERE_MAX + 1
    assert {d.state for d in WebhookDelivery.select()} == {DeliveryState.QUEUED}
    assert sync_queue().count == inbox.APPLY_HERE_MAX + 1


def test_deliveries_old_enough_for_the_sweep_go_to_apply_jobs_so_the_sweep_cannot_apply_them_beside_the_drain(
        app, client, conn):
    """The drain's own rows have no RQ job, which is what the sweep looks for in rows received long enough ago."""
    take_drain_job(client, conn, 2)
    half = app.config.get("INBOX_SWEEP_AFTER_SECONDS", 30) / 2
    WebhookDelivery.update(received_at=utcnow() - timedelta(seconds=half + 1)).execute()
    assert drain_inbox() == 2
    assert {d.state for d in WebhookDelivery.select()} == {DeliveryState.QUEUED}
    assert sorted(sync_queue().get_job_ids()) == sorted(inbox.job_id(d.id) for d in WebhookDelivery.select())
    assert inbox.sweep(now=utcnow() + timedelta(seconds=60)) == 0  # each has its job: the sweep leaves them


def test_a_delivery_failing_in_the_drain_job_gets_its_apply_job_when_rq_would_have_retried_it(client, conn, monkeypatch):
    take_drain_job(client, conn, 2)
    real = fail_for(monkeypatch, "drained1@example.com")
    drain_inbox()
    first, failed = WebhookDelivery.select().order_by(WebhookDelivery.id)
    assert (first.state, failed.state, failed.attempts) == (DeliveryState.APPLIED, DeliveryState.FAILED, 1)
    scheduled = ScheduledJobRegistry("sync", connection=get_redis())
    assert scheduled.get_job_ids() == [inbox.job_id(failed.id)]
    job = Job.fetch(inbox.job_id(failed.id), connection=get_redis())
    assert (job.func_name, job.args) == (inbox.APPLY_JOB, (failed.id,))
    assert (job.retries_left, job.retry_intervals) == (2, [30, 120])  # the rest of RQ's RETRY
    assert 0 < scheduled.get_scheduled_time(job).timestamp() - time.time() <= inbox.RETRY["interval"][0]
    assert inbox.sweep(now=utcnow() + timedelta(seconds=60)) == 0  # scheduled counts as active: no second job
    monkeypatch.setattr(batches, "apply_booking", real)  # the database is back when the retry comes
    apply_batch(failed.id)
    assert WebhookDelivery.get_by_id(failed.id).state == DeliveryState.APPLIED
    assert Appointment.select().count() == 2
