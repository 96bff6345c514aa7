"""No-shows and event type changes made in Calendly reach the portal (issue 17).

Marked in the sandbox, a no-show shows on the appointment within seconds and
clears when undone, through the webhook inbox; a calendar renamed in Calendly
shows its new name, one deleted shows "deleted in Calendly" and keeps its
appointments; the reconciliation makes good what a lost delivery missed.
"""
from datetime import timedelta

import pytest

from portal.models import Appointment, CalendarSelection, DeliveryState, Outcome, SyncDecision, WebhookDelivery
from portal.pipeline import reconcile

from .calendly_2026 import ada, fresh, uuid_of  # noqa: F401 - the fixture
from .helpers import select, wait_for

pytestmark = pytest.mark.slow

INDEX = "/calendars/settings/connections"


def page(client, path):
    resp = client.get(path)
    assert resp.status_code == 200, path
    return resp.get_data(as_text=True)


def selection_of(ada):
    return CalendarSelection.get((CalendarSelection.connection == ada.connection.id))


def test_a_no_show_marked_in_calendly_shows_on_the_appointment_and_clears_when_undone(ada, client):
    appointment = ada.book()
    invitee = uuid_of(appointment.invitee_uri)
    appointment_page = f"/calendars/appointments/{appointment.id}"
    assert "No-show" not in page(client, appointment_page)

    ada.sandbox._call("POST", f"/invitees/{invitee}/no_show", json={})
    wait_for(lambda: fresh(Appointment, appointment).no_show_at, timeout=20, message="the no-show to arrive")
    assert "No-show" in page(client, appointment_page)
    marked = SyncDecision.get((SyncDecision.invitee_uri == appointment.invitee_uri)
                              & SyncDecision.detail.startswith("No-show: marked"))
    assert marked.outcome == Outcome.UPDATED and marked.delivery.state == DeliveryState.APPLIED

    ada.sandbox._call("DELETE", f"/invitees/{invitee}/no_show")
    wait_for(lambda: fresh(Appointment, appointment).no_show_at is None, timeout=20,
             message="the undone no-show to arrive")
    # The badge is gone; the status history keeps the change (issue 14).
    assert ">No-show</span>" not in page(client, appointment_page)
    assert ">Booked</span>" in page(client, appointment_page)
    assert SyncDecision.get((SyncDecision.invitee_uri == appointment.invitee_uri)
                            & SyncDecision.detail.startswith("No-show: undone")).outcome == Outcome.UPDATED


def test_a_no_show_delivered_twice_is_applied_once(ada):
    appointment = ada.book()
    ada.sandbox._call("POST", f"/invitees/{uuid_of(appointment.invitee_uri)}/no_show", json={})
    delivery = wait_for(lambda: WebhookDelivery.get_or_none(
        (WebhookDelivery.event == "invitee_no_show.created") & (WebhookDelivery.state == DeliveryState.APPLIED)),
        timeout=20, message="the no-show delivery to be applied")
    first = fresh(Appointment, appointment).no_show_at

    from portal.pipeline.batches import apply_many

    WebhookDelivery.update(state=DeliveryState.QUEUED).where(WebhookDelivery.id == delivery.id).execute()
    apply_many([delivery.id])
    assert fresh(Appointment, appointment).no_show_at == first
    decisions = SyncDecision.select().where(SyncDecision.invitee_uri == appointment.invitee_uri,
                                            SyncDecision.detail.startswith("No-show"))
    assert [d.outcome for d in decisions] == [Outcome.UPDATED, Outcome.UNCHANGED]


def test_the_support_trace_explains_the_no_show(ada, client, people, auth):
    appointment = ada.book()
    ada.sandbox._call("POST", f"/invitees/{uuid_of(appointment.invitee_uri)}/no_show", json={})
    wait_for(lambda: fresh(Appointment, appointment).no_show_at, timeout=20, message="the no-show to arrive")
    people.user("support@calbridge.test", subaccount=None, support=True)
    auth.logout()
    auth.login("support@calbridge.test")
    trace = page(client, f"/support/trace?q={appointment.invitee_uri}")
    assert "No-show: marked in Calendly" in trace and "the appointment shows No-show" in trace
    assert "no-show (marked in Calendly" in trace


def test_a_calendar_renamed_in_calendly_shows_its_new_name(ada, client):
    appointment = ada.book()
    ada.sandbox._call("PATCH", f"/event_types/{uuid_of(ada.cleaning['uri'])}", json={"name": "Deep cleaning"})
    wait_for(lambda: fresh(Appointment, appointment).calendar_name == "Deep cleaning", timeout=20,
             message="the new name on the appointment")
    assert selection_of(ada).name == "Deep cleaning"
    assert "Deep cleaning" in page(client, INDEX)
    assert "Deep cleaning" in page(client, "/calendars/")
    assert "Deep cleaning" in page(client, f"{INDEX}/{ada.connection.id}/edit")


def test_a_calendar_deleted_in_calendly_is_marked_and_keeps_its_appointments(ada, client):
    appointment = ada.book()
    ada.sandbox._call("DELETE", f"/event_types/{uuid_of(ada.cleaning['uri'])}")
    wait_for(lambda: selection_of(ada).deleted_in_calendly_at, timeout=20, message="the deletion to arrive")
    assert "deleted in Calendly" in page(client, INDEX)
    modal = page(client, f"{INDEX}/{ada.connection.id}/edit")
    assert "Cleaning" in modal and "deleted in Calendly" in modal
    assert Appointment.get_or_none(Appointment.id == appointment.id) is not None
    assert "Cleaning" in page(client, f"/calendars/appointments/{appointment.id}")


def test_a_calendar_switched_off_in_calendly_is_marked_until_switched_on(ada, client):
    path = f"/event_types/{uuid_of(ada.cleaning['uri'])}"
    ada.sandbox._call("PATCH", path, json={"active": False})
    wait_for(lambda: selection_of(ada).deleted_in_calendly_at, timeout=20, message="the switch-off to arrive")
    assert "deleted in Calendly" in page(client, INDEX)
    ada.sandbox._call("PATCH", path, json={"active": True})
    wait_for(lambda: selection_of(ada).deleted_in_calendly_at is None, timeout=20, message="the switch-on")
    assert "deleted in Calendly" not in page(client, INDEX)


def test_reconciliation_follows_what_lost_deliveries_missed(ada):
    appointment = ada.book()
    ada.sandbox.faults(webhook_drop_rate=1.0)
    ada.sandbox._call("PATCH", f"/event_types/{uuid_of(ada.cleaning['uri'])}", json={"name": "Polish"})
    ada.sandbox._call("POST", f"/invitees/{uuid_of(appointment.invitee_uri)}/no_show", json={})
    assert fresh(Appointment, appointment).calendar_name == "Cleaning"
    reconcile.run(ada.connection.id)
    after = fresh(Appointment, appointment)
    assert after.calendar_name == "Polish" and after.no_show_at is not None
    assert selection_of(ada).name == "Polish"
    assert SyncDecision.get((SyncDecision.invitee_uri == appointment.invitee_uri)
                            & SyncDecision.detail.startswith("No-show: marked")).via == "reconcile"


def test_reconciliation_marks_a_calendar_calendly_no_longer_knows(ada):
    vanished = "https://api.calendly.com/event_types/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12
    select(ada.connection, ada.cleaning["uri"].rsplit("/", 1)[0] + vanished.rsplit("/event_types", 1)[1],
           name="Old calendar", selected_from=ada.connection.connected_at + timedelta(seconds=1))
    reconcile.run(ada.connection.id)
    marks = {s.name: s.deleted_in_calendly_at for s in CalendarSelection.select().where(
        CalendarSelection.connection == ada.connection.id)}
    assert marks["Old calendar"] is not None and marks["Cleaning"] is None
