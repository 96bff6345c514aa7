"""``POST /webhooks/calendly/<token>`` (SPEC C7, E5, W6): verify, store, wake the inbox, answer."""
import json
import time
from datetime import timedelta

import pytest
from rq import Queue

from portal.models import (
    Appointment,
    CalendlyConnection,
    Contact,
    DeliveryState,
    Status,
    Subaccount,
    WebhookDelivery,
)
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


def shows_the_phone(text):
    """The guest's phone number as the envelope carries it ("555" alone also matches ports and microseconds)."""
    return "555 1234" in text or "555-1234" in text


def sync_jobs():
    return Queue("sync", connection=get_redis()).get_job_ids()


def only_delivery():
    (delivery,) = WebhookDelivery.select()
    return delivery


def drain_jobs():
    return [j for j in Queue("sync", connection=get_redis()).get_jobs() if j.func_name == inbox.DRAIN_JOB]


def test_valid_delivery_is_stored_acknowledged_and_handed_on_by_a_drain_job(client, conn):
    body = envelope(booking(ET))
    resp = post_delivery(client, conn, body)
    assert resp.status_code == 200 and resp.get_json()["status"] == "ok"
    d = only_delivery()
    assert (d.state, d.event, d.invitee_uri) == (DeliveryState.RECEIVED, "invitee.created", body["payload"]["uri"])
    assert "Calendly-Webhook-Signature" in json.loads(d.headers)
    stored = json.loads(d.body)
    assert stored["payload"]["uri"] == body["payload"]["uri"]
    assert stored["payload"]["scheduled_event"]["start_time"] == body["payload"]["scheduled_event"]["start_time"]
    # E2: what is never synced is not kept in the inbox either.
    assert not shows_the_phone(d.body) and "questions_and_answers" not in stored["payload"]
    assert len(drain_jobs()) == 1 and len(sync_jobs()) == 1  # no job of its own from the request
    assert CalendlyConnection.get_by_id(conn.id).last_webhook_at is not None
    assert Appointment.select().count() == 0  # applied by the worker, not the request
    Queue("sync", connection=get_redis()).empty()
    assert inbox.drain() == 1  # the drain job, on a worker
    assert sync_jobs() == [f"delivery-{d.id}"] and only_delivery().state == DeliveryState.QUEUED


def test_a_burst_of_deliveries_wakes_one_drain_job_and_one_after_it_started_wakes_another(client, conn):
    for n in range(5):
        post_delivery(client, conn, envelope(booking(ET, invitee=f"I{n}", event=f"E{n}")))
    assert len(drain_jobs()) == 1 and len(sync_jobs()) == 1
    Queue("sync", connection=get_redis()).empty()
    assert inbox.drain() == 5
    post_delivery(client, conn, envelope(booking(ET, invitee="LATE", event="ELATE")))
    assert len(drain_jobs()) == 1  # the drain cleared the signal when it started: this one is not missed
    assert inbox.drain() == 1
    assert inbox.drain() == 0  # claimed once: never queued twice
    assert len([j for j in sync_jobs() if j.startswith("delivery-")]) == 6


def test_app_key_is_accepted_too(client, conn, app):
    resp = post_delivery(client, conn, envelope(booking(ET)), key=app.config["CALENDLY_WEBHOOK_SIGNING_KEY"])
    assert resp.status_code == 200


@pytest.mark.parametrize("case,status,reason", [
    ("missing", 401, "missing Calendly-Webhook-Signature header"),
    ("malformed", 400, "malformed Calendly-Webhook-Signature header"),
    ("forged", 401, "signature does not match"),
    ("expired", 401, "signature timestamp outside the 180 s tolerance"),
    ("future", 401, "signature timestamp outside the 180 s tolerance"),
    ("tampered", 401, "signature does not match"),
])
def test_bad_signatures_are_refused_recorded_and_nothing_applied(client, conn, case, status, reason):
    body = envelope(booking(ET))
    raw = json.dumps(body).encode()
    kwargs = {
        "missing": {"header": False},
        "malformed": {"header": "v1=abc"},
        "forged": {"key": "not-the-key"},
        "expired": {"t": int(time.time()) - 181},
        "future": {"t": int(time.time()) + 400},
        "tampered": {},
    }[case]
    if case == "tampered":
        from portal.calendly import signatures
        kwargs = {"header": signatures.sign(conn.signing_key, raw)}
        raw = raw.replace(b"Ada Lovelace", b"Eve Mallory")
    resp = post_delivery(client, conn, raw, **kwargs)
    assert resp.status_code == status
    assert resp.get_json() == {"status": "refused", "message": reason}
    d = only_delivery()
    assert (d.state, d.error, d.connection_id) == (DeliveryState.REJECTED, reason, conn.id)
    assert not shows_the_phone(d.body)
    assert sync_jobs() == [] and Appointment.select().count() == 0 and Contact.select().count() == 0
    assert CalendlyConnection.get_by_id(conn.id).last_webhook_at is None


def test_unknown_token_is_404_and_recorded(client, conn):
    resp = client.post("/webhooks/calendly/no-such-token", data=b"{}", headers={"Content-Type": "application/json"})
    assert resp.status_code == 404
    d = only_delivery()
    assert (d.state, d.connection_id, d.webhook_token) == (DeliveryState.REJECTED, None, "no-such-token")


def test_disconnected_connection_is_410(client, conn):
    CalendlyConnection.update(status=Status.DISCONNECTED).where(CalendlyConnection.id == conn.id).execute()
    resp = post_delivery(client, conn, envelope(booking(ET)))
    assert resp.status_code == 410
    assert only_delivery().error == "the connection was removed"


@pytest.mark.portal_config(WEBHOOK_MAX_BODY_BYTES=2048)
def test_oversized_body_is_413_and_recorded_without_the_body(client, conn):
    body = envelope(booking(ET))
    body["padding"] = "x" * 4000
    resp = post_delivery(client, conn, body)
    assert resp.status_code == 413
    d = only_delivery()
    assert d.state == DeliveryState.REJECTED and "over the 2048-byte limit" in d.error and d.body == ""


def test_a_refused_request_is_recorded_without_filling_the_database(client, conn):
    """Anyone can post to the intake: of an unsigned request only the start is kept for support."""
    resp = client.post(f"/webhooks/calendly/{conn.webhook_token}", data=b"A" * 200_000,
                       headers={"Content-Type": "application/json"})
    assert resp.status_code == 401
    d = only_delivery()
    assert d.state == DeliveryState.REJECTED and d.error == "missing Calendly-Webhook-Signature header"
    assert d.body.startswith("AAAA") and len(d.body.encode()) <= 1024 and "the rest not kept" in d.body


def test_invalid_json_is_400(client, conn):
    resp = post_delivery(client, conn, b"{not json")
    assert resp.status_code == 400
    assert only_delivery().error == "the body is not a JSON object"


def test_unknown_event_type_is_acknowledged_and_skipped(client, conn):
    body = envelope(booking(ET))
    body["event"] = "routing_form_submission.created"
    resp = post_delivery(client, conn, body)
    assert resp.status_code == 200
    d = only_delivery()
    assert (d.state, d.error) == (DeliveryState.SKIPPED, "event routing_form_submission.created is not imported")
    assert sync_jobs() == []


def test_same_body_again_is_acknowledged_but_not_applied_twice(client, conn):
    body = envelope(booking(ET))
    first = post_delivery(client, conn, body)
    again = post_delivery(client, conn, body, t=int(time.time()) + 1)  # a fresh signature, same body
    assert first.status_code == again.status_code == 200
    rows = list(WebhookDelivery.select().order_by(WebhookDelivery.id))
    assert [r.state for r in rows] == [DeliveryState.RECEIVED, DeliveryState.DUPLICATE]
    assert rows[1].error == f"same body as delivery {rows[0].id}; not applied again"
    Queue("sync", connection=get_redis()).empty()
    assert inbox.drain() == 1
    assert sync_jobs() == [f"delivery-{rows[0].id}"]


def test_redis_down_still_stores_and_acknowledges(client, conn, app):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    resp = post_delivery(client, conn, envelope(booking(ET)))
    assert resp.status_code == 200
    assert only_delivery().state == DeliveryState.RECEIVED


def test_sweep_hands_over_deliveries_left_in_the_inbox(client, conn, app):
    post_delivery(client, conn, envelope(booking(ET)))
    d = only_delivery()
    Queue("sync", connection=get_redis()).empty()
    WebhookDelivery.update(state=DeliveryState.RECEIVED).execute()
    assert inbox.sweep() == 0  # too recent: the request's own enqueue may still be on its way
    later = utcnow() + timedelta(seconds=app.config["INBOX_SWEEP_AFTER_SECONDS"] + 1)
    assert inbox.sweep(now=later) == 1
    assert sync_jobs() == [f"delivery-{d.id}"]
    assert WebhookDelivery.get_by_id(d.id).state == DeliveryState.QUEUED
    assert inbox.sweep(now=later) == 0  # its job is queued: not twice


def test_apply_of_a_stored_delivery_imports_once(client, conn):
    from jobs.sync import apply_batch

    post_delivery(client, conn, envelope(booking(ET)))
    d = only_delivery()
    assert apply_batch(d.id) == "imported"
    assert apply_batch(d.id) is None  # already applied: nothing happens
    d = WebhookDelivery.get_by_id(d.id)
    assert d.state == DeliveryState.APPLIED and d.applied_at is not None and d.attempts == 1
    appt = Appointment.get()
    assert appt.contact.name == "Ada Lovelace" and appt.notes == ""
    # Nothing from the questions, reminder number or location (phone) is stored anywhere.
    stored = json.dumps([appt.title, appt.owner_reason, appt.contact.email, appt.contact.name, d.body])
    assert not shows_the_phone(stored)


def test_apply_of_an_unreadable_booking_is_rejected_not_retried(conn):
    d = WebhookDelivery.create(connection=conn, body=json.dumps({"event": "invitee.created", "payload": {"uri": "x"}}),
                               event="invitee.created", state=DeliveryState.QUEUED)
    batches.apply(d.id)
    d = WebhookDelivery.get_by_id(d.id)
    assert d.state == DeliveryState.REJECTED and d.error.startswith("not a booking Calbridge can read")


def test_apply_failure_marks_the_delivery_failed_and_raises_for_rq_retry(client, conn, monkeypatch):
    post_delivery(client, conn, envelope(booking(ET)))
    d = only_delivery()

    def boom(*a, **k):
        raise RuntimeError("database went away")

    monkeypatch.setattr(batches, "apply_booking", boom)
    with pytest.raises(RuntimeError):
        batches.apply(d.id)
    d = WebhookDelivery.get_by_id(d.id)
    assert (d.state, d.error) == (DeliveryState.FAILED, "RuntimeError: database went away")
    monkeypatch.undo()
    batches.apply(d.id)
    assert WebhookDelivery.get_by_id(d.id).state == DeliveryState.APPLIED
    assert Appointment.select().count() == 1


@pytest.mark.csrf
def test_intake_needs_no_csrf_token(client, conn):
    assert post_delivery(client, conn, envelope(booking(ET))).status_code == 200
