"""No-show deliveries applied out of order (two workers, a retry) end as Calendly left them (issue 17)."""
from datetime import timedelta

import pytest

from portal.models import Appointment, Outcome, SyncDecision, WebhookDelivery
from portal.pipeline import batches
from portal.timeutil import to_iso, utcnow
from sync.helpers import booking, envelope, post_delivery

from .test_intake import ET, conn  # noqa: F401 - the fixture: Ada's connection with Cleaning selected


@pytest.fixture
def booked(client, conn):
    b = booking(ET)
    post_delivery(client, conn, envelope(b))
    batches.apply_many([d.id for d in WebhookDelivery.select()])
    return b


def no_show(client, conn, b, event, seconds_ago):
    body = envelope(b)
    at = utcnow() - timedelta(seconds=seconds_ago)
    body.update(event=event, created_at=to_iso(at))
    body["payload"]["no_show"] = ({"uri": "https://api.calendly.com/invitee_no_shows/NS1", "created_at": to_iso(at)}
                                  if event == "invitee_no_show.created" else None)
    assert post_delivery(client, conn, body).status_code == 200
    return WebhookDelivery.select().order_by(WebhookDelivery.id.desc()).first().id


def appointment(b):
    return Appointment.get(Appointment.invitee_uri == b.invitee_uri)


def test_an_undo_applied_before_its_older_mark_leaves_no_no_show(client, conn, booked):
    marked = no_show(client, conn, booked, "invitee_no_show.created", seconds_ago=20)
    undone = no_show(client, conn, booked, "invitee_no_show.deleted", seconds_ago=10)
    batches.apply_many([undone])
    batches.apply_many([marked])
    assert appointment(booked).no_show_at is None
    last = SyncDecision.select().where(SyncDecision.invitee_uri == booked.invitee_uri).order_by(
        SyncDecision.id.desc()).first()
    assert last.outcome == Outcome.UNCHANGED and "a later change was already received" in last.detail


def test_a_mark_applied_before_its_older_undo_stays(client, conn, booked):
    undone = no_show(client, conn, booked, "invitee_no_show.deleted", seconds_ago=20)
    marked = no_show(client, conn, booked, "invitee_no_show.created", seconds_ago=10)
    batches.apply_many([marked])
    batches.apply_many([undone])
    assert appointment(booked).no_show_at is not None


def test_in_order_a_mark_then_its_undo_clear_the_no_show(client, conn, booked):
    batches.apply_many([no_show(client, conn, booked, "invitee_no_show.created", seconds_ago=20)])
    assert appointment(booked).no_show_at is not None
    batches.apply_many([no_show(client, conn, booked, "invitee_no_show.deleted", seconds_ago=10)])
    assert appointment(booked).no_show_at is None
