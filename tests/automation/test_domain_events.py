"""Domain events are written with the change that causes them, once per change (issue 14, W6)."""
import pytest

from portal.models import Appointment, DomainEvent, EventKind, StatusChange
from portal.sync.apply import BACKFILL, RECONCILE, WEBHOOK, apply_booking
from tests.sync.helpers import ada_connected, booking

ET = "https://api.calendly.com/event_types/INTRO"


@pytest.fixture
def acme(app_ctx, people):
    sub, ada, conn = ada_connected(people, ET, "Intro Call")
    sub.reflect_cancellations = True
    sub.save()
    return sub, ada, conn


def kinds():
    return [(e.kind, e.origin) for e in DomainEvent.select().order_by(DomainEvent.id)]


def test_a_booking_delivered_three_times_and_reconciled_is_one_booked_event(acme):
    _, _, conn = acme
    b = booking(ET, email="grace@example.com", guest_emails=("bob@example.com",))
    for via in (WEBHOOK, WEBHOOK, WEBHOOK, RECONCILE):
        apply_booking(conn, b, via)
    assert kinds() == [(EventKind.CONTACT_CREATED, "webhook"), (EventKind.APPOINTMENT_BOOKED, "webhook"),
                       (EventKind.CONTACT_CREATED, "webhook")]
    event = DomainEvent.get(DomainEvent.kind == EventKind.APPOINTMENT_BOOKED)
    assert event.appointment.invitee_uri == b.invitee_uri and event.calendar == ET and event.starts_workflows


def test_a_backfilled_booking_starts_workflows_only_with_the_connections_switch(acme):
    _, _, conn = acme
    apply_booking(conn, booking(ET, invitee="OLD1", event="OLD1"), BACKFILL)
    conn.backfill_starts_workflows = True
    conn.save()
    apply_booking(conn, booking(ET, invitee="OLD2", event="OLD2"), BACKFILL)
    booked = DomainEvent.select().where(DomainEvent.kind == EventKind.APPOINTMENT_BOOKED).order_by(DomainEvent.id)
    assert [(e.origin, e.starts_workflows) for e in booked] == [("backfill", False), ("backfill", True)]


def test_a_cancellation_changes_the_status_once_with_history_and_event(acme):
    _, _, conn = acme
    b = booking(ET)
    apply_booking(conn, b, WEBHOOK)
    cancelled = booking(ET, status="canceled")
    apply_booking(conn, cancelled, WEBHOOK)
    apply_booking(conn, cancelled, RECONCILE)
    appointment = Appointment.get(Appointment.invitee_uri == b.invitee_uri)
    assert appointment.status == "cancelled"
    assert [(c.from_status, c.to_status, c.origin) for c in StatusChange.select()] == [
        ("booked", "cancelled", "webhook")]
    changed = DomainEvent.get(DomainEvent.kind == EventKind.STATUS_CHANGED)
    assert (changed.from_value, changed.to_value) == ("booked", "cancelled")


def test_a_failed_apply_leaves_no_event(acme, monkeypatch):
    _, _, conn = acme
    from portal.sync import apply as rules

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(rules, "_add_source", broken)
    with pytest.raises(RuntimeError):
        apply_booking(conn, booking(ET), WEBHOOK)
    assert DomainEvent.select().count() == 0 and Appointment.select().count() == 0


def test_a_contact_created_by_hand_names_the_person_as_the_cause(client, people, auth, app_ctx):
    ada = people.user("ada@acme.test")
    auth.login("ada@acme.test")
    resp = client.post("/contacts/new", data={"name": "Pat Lee", "email": "pat@example.com"})
    assert resp.status_code == 303
    (event,) = DomainEvent.select()
    assert (event.kind, event.origin, event.cause) == (EventKind.CONTACT_CREATED, "person", f"user {ada.id}")
    assert event.contact.email == "pat@example.com" and event.starts_workflows


def test_a_status_set_by_a_person_names_them_in_the_history_and_the_event(client, people, auth, app_ctx):
    from datetime import timedelta

    from portal.timeutil import utcnow
    ada = people.user("ada@acme.test")
    auth.login("ada@acme.test")
    start = utcnow() + timedelta(days=1)
    client.post("/calendars/appointments/new", data={
        "title": "Check-up", "start": start.strftime("%Y-%m-%dT%H:%M"),
        "end": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"), "contact_email": "pat@example.com"})
    appointment = Appointment.get(Appointment.title == "Check-up")
    client.post(f"/calendars/appointments/{appointment.id}/status", data={"status": "confirmed"})
    (change,) = StatusChange.select()
    assert (change.to_status, change.origin, change.cause) == ("confirmed", "person", f"user {ada.id}")
    event = DomainEvent.get(DomainEvent.kind == EventKind.STATUS_CHANGED)
    assert (event.origin, event.cause) == ("person", f"user {ada.id}")
    created = DomainEvent.get(DomainEvent.kind == EventKind.CONTACT_CREATED)
    assert (created.origin, created.cause) == ("person", f"user {ada.id}")
