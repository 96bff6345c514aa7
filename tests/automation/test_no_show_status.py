"""A no-show marked in Calendly (the sandbox) is the appointment's status, with history and the domain event
workflows start from; undone in Calendly, the appointment is Booked again (issue 14 item 1)."""
import pytest

from portal.models import Appointment, ContactTag, DomainEvent, Enrolment, EventKind, StatusChange, Subaccount
from tests.automation.helpers import published
from tests.sync.calendly_2026 import ada, fresh, uuid_of  # noqa: F401 - the fixture
from tests.sync.helpers import wait_for

pytestmark = pytest.mark.slow


def history(appointment):
    return [(c.from_status, c.to_status, c.origin)
            for c in StatusChange.select().where(StatusChange.appointment == appointment.id).order_by(StatusChange.id)]


def test_a_calendly_no_show_starts_the_no_show_workflow_and_undoing_it_returns_to_booked(ada, client):
    sub = Subaccount.get(name="Acme Dental")
    workflow = published(sub, [("add_tag", {"tag": "missed-visit"})], name="Missed visit",
                         trigger="appointment_status_changed", trigger_statuses="no_show")
    appointment = ada.book()
    invitee = uuid_of(appointment.invitee_uri)
    page_path = f"/calendars/appointments/{appointment.id}"

    ada.sandbox._call("POST", f"/invitees/{invitee}/no_show", json={})
    wait_for(lambda: fresh(Appointment, appointment).status == "no_show", timeout=30, message="the No-show status")
    assert history(appointment) == [("booked", "no_show", "webhook")]
    event = DomainEvent.get(DomainEvent.kind == EventKind.STATUS_CHANGED)
    assert (event.from_value, event.to_value, event.origin) == ("booked", "no_show", "webhook")
    assert event.cause.startswith("delivery ")
    enrolment = wait_for(lambda: Enrolment.get_or_none((Enrolment.workflow == workflow)
                                                        & (Enrolment.state == "done")),
                         timeout=30, message="the no-show workflow to finish")
    assert enrolment.event_id == event.id
    assert [t.tag for t in ContactTag.select().where(ContactTag.contact == appointment.contact_id)] == [
        "missed-visit"]
    text = client.get(page_path).get_data(as_text=True)
    assert "Booked → <strong>No-show</strong>" in text

    ada.sandbox._call("DELETE", f"/invitees/{invitee}/no_show")
    wait_for(lambda: fresh(Appointment, appointment).status == "booked", timeout=30,
             message="the appointment to be Booked again")
    assert fresh(Appointment, appointment).no_show_at is None
    assert history(appointment) == [("booked", "no_show", "webhook"), ("no_show", "booked", "webhook")]
    assert "No-show → <strong>Booked</strong>" in client.get(page_path).get_data(as_text=True)
    # Back to Booked is not "changed to No-show": the workflow ran once.
    assert Enrolment.select().where(Enrolment.workflow == workflow).count() == 1
