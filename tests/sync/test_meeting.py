"""The meeting's location and hosts (issue 16 item 7): what the sync keeps of them, and never a phone number (E2)."""
import json

import pytest

from portal.models import Appointment
from portal.sync.apply import BACKFILL, RECONCILE, WEBHOOK, apply_booking
from portal.sync.booking import minimize, parse_booking, parse_delivery
from portal.sync.meeting import decode_hosts, location_of
from .helpers import ada_connected, booking, envelope

API = "https://api.calendly.com"
ET = f"{API}/event_types/CLEANING"
PHONE = "+1 404 555 1234"


def _resources(location=None, memberships=None):
    invitee = {"uri": f"{API}/scheduled_events/E1/invitees/I1", "email": "grace@example.com", "name": "Grace",
               "created_at": "2030-01-01T10:00:00Z", "status": "active", "text_reminder_number": PHONE}
    event = {"uri": f"{API}/scheduled_events/E1", "event_type": ET, "name": "Cleaning",
             "start_time": "2030-01-08T15:00:00Z", "end_time": "2030-01-08T15:30:00Z", "location": location,
             "event_memberships": memberships if memberships is not None else [
                 {"user": f"{API}/users/U1", "user_name": "Bob Host", "user_email": "bob@calendly.test"}]}
    return invitee, event


@pytest.mark.parametrize("kind", ["outbound_call", "inbound_call"])
def test_a_phone_call_location_keeps_the_kind_but_never_the_number(kind):
    invitee, event = _resources({"type": kind, "location": PHONE})
    b = parse_booking(invitee, event)
    assert (b.location_kind, b.location_text, b.join_url) == (kind, "", "")
    assert "555" not in repr(b)
    kept = json.dumps(minimize({"event": "invitee.created", "payload": {**invitee, "scheduled_event": event}}))
    assert "555" not in kept and f'"type": "{kind}"' in kept


@pytest.mark.parametrize("location, expected", [
    ({"type": "zoom_conference", "status": "pushed", "join_url": "https://zoom.us/j/123"},
     ("zoom_conference", "", "https://zoom.us/j/123")),
    ({"type": "physical", "location": "12 Main St, Chicago"}, ("physical", "12 Main St, Chicago", "")),
    ({"type": "custom", "location": "Front desk, 2nd floor"}, ("custom", "Front desk, 2nd floor", "")),
    # An invitee typing their number where a place was asked for is still a phone number.
    ({"type": "ask_invitee", "location": "(404) 555-1234"}, ("ask_invitee", "", "")),
    ({"type": "google_conference", "status": "processing", "join_url": None}, ("google_conference", "", "")),
    # Only web addresses become links on the page.
    ({"type": "custom", "location": "Online", "join_url": "javascript:alert(1)"}, ("custom", "Online", "")),
    (None, ("", "", "")),
])
def test_location_kind_text_and_join_link_are_read_as_calendly_gives_them(location, expected):
    assert location_of(location) == expected


def test_hosts_come_from_event_memberships_with_name_and_email():
    invitee, event = _resources(memberships=[
        {"user": f"{API}/users/U1", "user_name": "Bob Host", "user_email": "bob@calendly.test"},
        {"user": f"{API}/users/U1", "user_name": "Bob Host", "user_email": "bob@calendly.test"},
        {"user": f"{API}/users/U2", "user_email": "cy@calendly.test"},
        {"user_name": "No user URI"},
    ])
    assert parse_booking(invitee, event).hosts == (("Bob Host", "bob@calendly.test"), ("", "cy@calendly.test"))


def test_the_inbox_copy_reads_back_as_the_same_booking():
    invitee, event = _resources({"type": "zoom_conference", "status": "pushed", "join_url": "https://zoom.us/j/9"})
    body = {"event": "invitee.created", "payload": {**invitee, "scheduled_event": event}}
    assert parse_delivery(minimize(body))[1] == parse_booking(invitee, event)


@pytest.fixture
def acme(app_ctx, people):
    sub, _, conn = ada_connected(people, ET, "Cleaning")
    return sub, conn


@pytest.mark.parametrize("via", [WEBHOOK, BACKFILL, RECONCILE])
def test_every_import_path_stores_location_and_hosts(acme, via):
    sub, conn = acme
    b = booking(ET, location_kind="zoom_conference", join_url="https://zoom.us/j/1",
                hosts=(("Bob Host", "bob@calendly.test"),))
    apply_booking(conn, b, via)
    a = Appointment.get(Appointment.subaccount == sub)
    assert (a.location_kind, a.location_text, a.join_url) == ("zoom_conference", "", "https://zoom.us/j/1")
    assert decode_hosts(a.calendly_hosts) == [{"name": "Bob Host", "email": "bob@calendly.test"}]


def test_a_later_delivery_brings_the_join_link_calendly_made_after_the_booking(acme):
    sub, conn = acme
    apply_booking(conn, booking(ET, location_kind="google_conference"), WEBHOOK)
    apply_booking(conn, booking(ET, location_kind="google_conference", join_url="https://meet.google.com/abc"),
                  RECONCILE)
    assert Appointment.get(Appointment.subaccount == sub).join_url == "https://meet.google.com/abc"


def test_a_webhook_with_a_phone_call_stores_no_number_anywhere(acme):
    sub, conn = acme
    body = minimize(envelope(booking(ET)))
    apply_booking(conn, parse_delivery(body)[1], WEBHOOK)
    a = Appointment.get(Appointment.subaccount == sub)
    assert a.location_kind == "outbound_call"
    stored = json.dumps([a.location_kind, a.location_text, a.join_url, a.calendly_hosts, body])
    assert "555" not in stored
