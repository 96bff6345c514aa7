"""The calendar in a real browser (issue 16): local time with the zone named, the week time grid,
day and month views, filters, click-through, and the Calendars page."""
import re
from datetime import datetime

import pytest
from playwright.sync_api import expect
from browser_steps import shot, sign_in

from portal.extensions import db
from portal.models import AppointmentStatus, CalendarSelection, CalendlyConnection, Source, Subaccount

pytestmark = pytest.mark.e2e

WINTER = datetime(2030, 1, 15, 15, 0)  # a Tuesday; 9:00 AM CST in Chicago
SUMMER = datetime(2030, 7, 16, 15, 0)  # a Tuesday; 10:00 AM CDT in Chicago


def chicago(people):
    ann = people.user("ann@acme.test", name="Ann Owner", role="admin")
    ben = people.user("ben@acme.test", name="Ben Host")
    with db.connection_context():
        Subaccount.update(time_zone="America/Chicago").where(Subaccount.name == "Acme Dental").execute()
    return ann, ben


def hour_of(page, event, day_label):
    """Where ``event`` starts in its day column, in hours from midnight (as drawn)."""
    column = page.get_by_role("listitem", name=day_label).locator(".tg-col")
    col, box = column.bounding_box(), event.bounding_box()
    return (box["y"] - col["y"]) / (col["height"] / 24)


def test_a_chicago_subaccount_sees_a_15_00_utc_booking_at_9_am_cst_and_10_am_cdt_in_the_right_row(
        page, live_server, people, rows):
    ann, _ = chicago(people)
    grace = rows.contact(name="Grace Hopper", email="grace@example.com")
    winter = rows.appointment(title="Winter check-up", start=WINTER, contact=grace, owner=ann)
    rows.appointment(title="Summer check-up", start=SUMMER, contact=grace, owner=ann)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server, "ann@acme.test")

    page.goto(f"{live_server}/calendars/week?start=2030-01-15")
    expect(page.get_by_text("Times in America/Chicago.")).to_be_visible()
    event = page.get_by_role("listitem", name="Tuesday 15 January").get_by_role("link", name=re.compile("Winter check-up"))
    expect(event).to_contain_text("9:00 AM–9:30 AM")
    assert abs(hour_of(page, event, "Tuesday 15 January") - 9) < 0.1  # the 9 AM row
    label = page.locator(".tg-hour", has_text=re.compile(r"^9 AM$")).bounding_box()  # the 9 AM hour band
    assert label["y"] <= event.bounding_box()["y"] < label["y"] + label["height"] / 2
    shot(page, "calendar-week-chicago")

    event.click()
    expect(page.get_by_text("Tue 15 Jan 2030, 9:00 AM–9:30 AM CST").first).to_be_visible()
    assert page.url.endswith(f"/calendars/appointments/{winter.id}")

    page.goto(f"{live_server}/calendars/week?start=2030-07-16")
    event = page.get_by_role("listitem", name="Tuesday 16 July").get_by_role("link", name=re.compile("Summer check-up"))
    expect(event).to_contain_text("10:00 AM–10:30 AM")
    assert abs(hour_of(page, event, "Tuesday 16 July") - 10) < 0.1  # CDT: an hour later on the wall clock
    event.click()
    expect(page.get_by_text("Tue 16 Jul 2030, 10:00 AM–10:30 AM CDT").first).to_be_visible()


def test_an_appointment_typed_in_chicago_time_shows_where_it_was_typed(page, live_server, people):
    chicago(people)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server, "ann@acme.test")
    page.goto(f"{live_server}/calendars/appointments/new")
    page.get_by_label("Title").fill("Phone booking")
    page.get_by_label("Start (America/Chicago)").fill("2030-03-11T09:00")  # the day after the change to CDT
    page.get_by_label("End (America/Chicago)").fill("2030-03-11T09:45")
    page.get_by_role("button", name=re.compile("Create|Save")).click()
    expect(page.get_by_text("Mon 11 Mar 2030, 9:00 AM–9:45 AM CDT").first).to_be_visible()


def test_calendly_and_portal_appointments_cancelled_ones_and_the_owner_filter(page, live_server, people, rows):
    ann, ben = chicago(people)
    rows.appointment(title="Cleaning for Ada", start=datetime(2030, 1, 14, 16), owner=ann, calendar="Cleaning")
    rows.appointment(title="Phone booking", start=datetime(2030, 1, 15, 17), owner=ben, source=Source.PORTAL)
    rows.appointment(title="Cancelled intro", start=datetime(2030, 1, 16, 18), owner=ben,
                     status=AppointmentStatus.CANCELLED)
    rows.appointment(title="Overlap A", start=datetime(2030, 1, 17, 15), owner=ann)
    rows.appointment(title="Overlap B", start=datetime(2030, 1, 17, 15, 15), owner=ben)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server, "ann@acme.test")
    page.goto(f"{live_server}/calendars/week?start=2030-01-14")

    expect(page.get_by_role("link", name=re.compile(r"Cleaning for Ada.*\(Calendly\)"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"Phone booking.*\(created in the portal\)"))).to_be_visible()
    cancelled = page.get_by_role("link", name=re.compile(r"Cancelled intro.*cancelled\)"))
    expect(cancelled).to_be_visible()
    title = cancelled.locator(".event-title")
    assert "line-through" in title.evaluate("e => getComputedStyle(e).textDecorationLine")
    # Overlapping appointments sit side by side, not on top of each other.
    a = page.get_by_role("link", name=re.compile("Overlap A")).bounding_box()
    b = page.get_by_role("link", name=re.compile("Overlap B")).bounding_box()
    assert a["x"] + a["width"] <= b["x"] + 1 or b["x"] + b["width"] <= a["x"] + 1
    shot(page, "calendar-week-kinds")

    page.get_by_label("Owner").select_option(label="Ben Host")
    expect(page.get_by_role("link", name=re.compile("Cleaning for Ada"))).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Phone booking"))).to_be_visible()
    assert "owner=" in page.url

    page.get_by_role("link", name="Month", exact=True).click()
    expect(page.get_by_role("heading", name="January 2030")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Phone booking"))).to_be_visible()
    shot(page, "calendar-month")

    page.goto(f"{live_server}/calendars/day?start=2030-01-17")
    expect(page.get_by_role("heading", name="Thursday 17 January 2030")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Overlap A"))).to_be_visible()
    shot(page, "calendar-day")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/calendars/week?start=2030-01-14")
    # The grid scrolls inside its own box; the tabs, toolbar and filters stay within the phone's width
    # (the site-wide navigation is the responsive-layout work's, issue 16 item 3).
    wide = page.evaluate("""Array.from(document.querySelectorAll(
        '.tabs, .tabs a, .cal-toolbar, .cal-toolbar *, .cal-filters, .cal-filters *, .cal-scroll')).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .map(e => e.tagName + ' ' + e.textContent.trim().slice(0, 30))""")
    assert wide == []
    shot(page, "calendar-week-390")


def test_the_calendars_page_lists_each_calendar_with_its_type_members_and_booking_link(page, live_server, people):
    ann, ben = chicago(people)
    with db.connection_context():
        sub = Subaccount.get(Subaccount.name == "Acme Dental")
        for n, user in enumerate((ann, ben)):
            conn = CalendlyConnection.create(subaccount=sub, user=user, status="connected",
                                             calendly_user_uri=f"https://api.calendly.com/users/U{n}",
                                             webhook_token=f"token-{n}")
            CalendarSelection.create(connection=conn, event_type_uri="https://api.calendly.com/event_types/TEAM",
                                     name="Team intro", shared=True, pooling_type="round_robin",
                                     scheduling_url="http://localhost:5001/d/team-intro")
        CalendarSelection.create(connection=conn, event_type_uri="https://api.calendly.com/event_types/BEN",
                                 name="Ben's check-up", scheduling_url="http://localhost:5001/ben/check-up")
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server, "ann@acme.test")
    page.goto(f"{live_server}/calendars/")
    page.get_by_role("navigation", name="Calendars").get_by_role("link", name="Calendars", exact=True).click()
    team = page.get_by_role("row", name=re.compile("Team intro"))
    expect(team).to_contain_text("Round robin")
    expect(team).to_contain_text("Ann Owner, Ben Host")
    expect(team.get_by_role("link", name=re.compile("Open booking page"))).to_have_attribute(
        "href", "http://localhost:5001/d/team-intro")
    personal = page.get_by_role("row", name=re.compile("Ben's check-up"))
    expect(personal).to_contain_text("Personal")
    expect(personal).to_contain_text("Ben Host")
    shot(page, "calendars-page")
