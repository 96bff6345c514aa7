"""The appointment page of a real sandbox booking (issue 16 item 7): Open in Calendly, the meeting's place
or link, the Calendly host and the portal owner with the reason, the guests and the status history, in the
user's time zone; a portal appointment shows none of the Calendly parts; no API URI on either."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from browser_steps import shot, sign_in
from sync.helpers import connect_via_sandbox, wait_for

from portal.extensions import db
from portal.models import Appointment, AppointmentStatus, CalendlyConnection, Source, Status, Subaccount
from portal.timeutil import to_iso, utcnow

pytestmark = pytest.mark.e2e

URI = re.compile(r"/scheduled_events/[^/\s\"?]+/invitees/|/event_types/|api\.calendly\.com|/users/[A-Z0-9]{8,}")


def _winter_day(hour):
    """A day at least two days ahead in winter (CST), at ``hour`` UTC."""
    day = utcnow() + timedelta(days=2)
    if 3 <= day.month <= 11:
        day = day.replace(year=day.year + (day.month > 2), month=1, day=15)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.fixture
def office(app_ctx, people, sandbox, stack, live_server):
    """Ann imports her Zoom "Intro call", her phone "Phone consult" and the round-robin "Team Intro" she
    shares with Ben (who has no portal connection), in a subaccount on Chicago time."""
    ann = people.user("ann@acme.test", name="Ann Owner")
    org = sandbox.create_user("ann@cal.test", name="Ann Calendly")["organization"]["uri"]
    sandbox.create_user("ben@cal.test", name="Ben Calendly", organization=org)
    made = {}
    for name, hosts, pooling, location in (
            ("Intro call", ["ann@cal.test"], None, {"kind": "zoom_conference"}),
            ("Phone consult", ["ann@cal.test"], None, {"kind": "outbound_call"}),
            ("Team Intro", ["ann@cal.test", "ben@cal.test"], "round_robin",
             {"kind": "physical", "location": "12 Main St, Chicago"})):
        made[name] = sandbox._call("POST", "/event_types", json={
            "name": name, "hosts": hosts, "pooling_type": pooling, "duration": 30, "location": location})
    with db.connection_context():
        sub = Subaccount.get(name="Acme Dental")
        Subaccount.update(time_zone="America/Chicago", reflect_cancellations=True).where(
            Subaccount.id == sub.id).execute()
        connect_via_sandbox(stack, ann, sub, "ann@cal.test", list(made))
    return {"ann": ann, "sub": sub, **made}


def _book(sandbox, event_type, when, name, email, phone=None, **extra):
    invitee = {"name": name, "email": email, **({"text_reminder_number": phone} if phone else {})}
    body = {"event_type": event_type["uri"], "start_time": to_iso(when), "invitee": invitee, **extra}
    booked = sandbox._call("POST", "/bookings", json=body)
    with db.connection_context():
        return wait_for(lambda: Appointment.get_or_none(Appointment.invitee_uri == booked["invitee"]),
                        timeout=30, message=f"the booking of {name}"), booked


def _no_api_uri_on(page):
    text = page.locator("main").inner_text()
    assert not URI.search(text), URI.search(text)


def test_a_calendly_booking_shows_its_link_place_host_owner_guests_and_history(
        page, office, sandbox, live_server, worker):
    start = _winter_day(15)
    intro, booked = _book(sandbox, office["Intro call"], start, "Grace Hopper", "grace@example.com",
                          guests=["alan@example.com"])
    event_uuid = booked["event"].rsplit("/", 1)[1]
    invitee_uuid = booked["invitee"].rsplit("/", 1)[1]
    # One change at a time: the worker may apply two deliveries in either order.
    for change, status in ((lambda: sandbox._call("POST", f"/invitees/{invitee_uuid}/no_show", json={}),
                            AppointmentStatus.NO_SHOW),
                           (lambda: sandbox.cancel(booked["invitee"]), AppointmentStatus.CANCELLED)):
        change()
        with db.connection_context():
            wait_for(lambda s=status: Appointment.get_by_id(intro.id).status == s, timeout=30,
                     message=f"the appointment {status}")

    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, "ann@acme.test")
    page.goto(f"{live_server}/calendars/appointments/{intro.id}")
    expect(page.get_by_role("heading", name="Intro call", exact=True)).to_be_visible()

    open_link = page.get_by_role("link", name="Open in Calendly")
    expect(open_link).to_have_attribute(
        "href", f"{sandbox.url}/app/scheduled_events/user/me?uuid={event_uuid}")
    expect(page.get_by_text("Zoom", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Join the meeting")).to_have_attribute(
        "href", f"{sandbox.url}/meet/{event_uuid}")
    people = page.get_by_role("region", name="People")
    expect(people.get_by_role("list", name="Calendly hosts")).to_contain_text("Ann Calendly")
    expect(people).to_contain_text("Ann Owner — the booking came through Ann Owner’s Calendly connection")
    guests = page.get_by_role("region", name="Guests")
    expect(guests.get_by_role("link", name="Grace Hopper")).to_be_visible()
    expect(guests.get_by_role("link", name="alan@example.com")).to_be_visible()
    history = page.get_by_role("list", name="Status history").get_by_role("listitem")
    expect(history).to_have_count(3)
    expect(history.nth(0)).to_contain_text(re.compile(r"^Booked\s+.*(AM|PM) CST · in Calendly"))
    expect(history.nth(1)).to_contain_text(re.compile(r"Booked → No-show\s+.*(AM|PM) CST · in Calendly"))
    expect(history.nth(2)).to_contain_text(re.compile(r"No-show → Cancelled\s+.*(AM|PM) CST · in Calendly"))
    expect(page.get_by_text(re.compile(r"9:00 AM–9:30 AM CST")).first).to_be_visible()
    _no_api_uri_on(page)
    shot(page, "appointment-calendly-details")

    # The host's link opens the event in Calendly's (the sandbox's) web app, after its own sign-in.
    page.goto(open_link.get_attribute("href"))
    page.get_by_label("Email").fill("ann@cal.test")
    page.get_by_label("Password").fill("calendly-pass")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Intro call")).to_be_visible()
    expect(page.get_by_text("Grace Hopper <grace@example.com>")).to_be_visible()


def test_a_round_robin_booking_names_the_calendly_host_and_why_the_owner_was_drawn(
        page, office, people, sandbox, stack, live_server, worker):
    ben = people.user("ben@acme.test", name="Ben Ode")
    with db.connection_context():
        ben_connection = connect_via_sandbox(stack, ben, office["sub"], "ben@cal.test", ["Team Intro"])
        wait_for(lambda: CalendlyConnection.get_by_id(ben_connection.id).status == Status.CONNECTED, timeout=30,
                 message="Ben's import")
    # Calendly gave the meeting to Ben; the portal drew its owner at random among Ann and Ben (O2).
    team, _ = _book(sandbox, office["Team Intro"], _winter_day(16), "Hal Guest", "hal@example.com",
                    hosts=["ben@cal.test"])
    with db.connection_context():
        owner = Appointment.get_by_id(team.id).owner.display_name
    assert owner in ("Ann Owner", "Ben Ode")
    phone, _ = _book(sandbox, office["Phone consult"], _winter_day(17), "Ivy Guest", "ivy@example.com",
                     phone="+1 404 555 1234")

    sign_in(page, live_server, "ann@acme.test")
    page.goto(f"{live_server}/calendars/appointments/{team.id}")
    hosts = page.get_by_role("region", name="People")
    expect(hosts.get_by_role("list", name="Calendly hosts")).to_contain_text("Ben Calendly")
    expect(hosts.get_by_role("list", name="Calendly hosts")).not_to_contain_text("Ann Calendly")
    expect(hosts).to_contain_text(f"{owner} — chosen at random among the members who import Team Intro")
    expect(page.get_by_text("In person")).to_be_visible()
    expect(page.get_by_text("12 Main St, Chicago")).to_be_visible()
    _no_api_uri_on(page)
    shot(page, "appointment-round-robin")

    page.goto(f"{live_server}/calendars/appointments/{phone.id}")
    expect(page.get_by_text("Phone call", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Join the meeting")).to_have_count(0)
    assert "555" not in page.locator("main").inner_text()  # E2: the guest's number is not the portal's


def test_a_portal_appointment_shows_none_of_the_calendly_parts(page, live_server, people, rows):
    ann = people.user("ann@acme.test", name="Ann Owner")
    pat = rows.contact(name="Pat Lee", email="pat@example.com")
    a = rows.appointment(title="Check-up", source=Source.PORTAL, contact=pat, owner=ann,
                         owner_reason="Created in the portal by Ann Owner", calendar="")

    sign_in(page, live_server, "ann@acme.test")
    page.goto(f"{live_server}/calendars/appointments/{a.id}")
    expect(page.get_by_role("heading", name="Check-up")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_be_visible()
    for gone in ("Open in Calendly", "Join the meeting"):
        expect(page.get_by_role("link", name=gone)).to_have_count(0)
    expect(page.get_by_role("list", name="Calendly hosts")).to_have_count(0)
    expect(page.get_by_text("Location", exact=True)).to_have_count(0)
    expect(page.get_by_role("region", name="People")).to_contain_text(
        "Ann Owner — created in the portal by Ann Owner")
    expect(page.get_by_role("region", name="Guests").get_by_role("link", name="Pat Lee")).to_be_visible()
    history = page.get_by_role("list", name="Status history").get_by_role("listitem")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("Created")
    expect(history.first).to_contain_text("in the portal")
    _no_api_uri_on(page)
