"""The pages in a real browser: sign in, find Calendars, read a Calendly appointment (E3).

A booking arriving on an open page (E5) is watched in test_live_pages_e2e.py, booked on the
sandbox's booking page; here rows are made directly, before the page is opened.

Screenshots of every page land in /tmp/shots/ for a human to look at.
"""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from browser_steps import shot, sign_in

from portal.extensions import db
from portal.models import AppointmentStatus, Source
from portal.sync.ownership import refresh_assigned_user
from portal.timeutil import utcnow

pytestmark = pytest.mark.e2e


def test_an_imported_calendly_appointment_is_listed_and_read_only(page, live_server, people, rows):
    ann = people.user("ann@acme.test", name="Ann Owner")
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, "ann@acme.test")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendars").click()
    expect(page.get_by_role("heading", name="Calendars")).to_be_visible()
    expect(page.get_by_text("No appointments yet.")).to_be_visible()
    shot(page, "calendars-empty")

    # A booking the sync imported (a row made directly), then the list opened again.
    grace = rows.contact(name="Grace Hopper", email="grace@example.com")
    rows.appointment(title="Intro call with Grace", contact=grace, owner=ann,
                     owner_reason="O1: personal calendar of Ann Owner",
                     start=(utcnow() + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0))
    page.reload()
    link = page.get_by_role("link", name="Intro call with Grace")
    expect(link).to_be_visible()
    expect(page.get_by_text("No appointments yet.")).to_have_count(0)

    link.click()
    expect(page.get_by_role("heading", name="Intro call with Grace")).to_be_visible()
    expect(page.get_by_text("Managed in Calendly")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)


def test_a_portal_appointment_is_created_edited_and_deleted(page, live_server, people):
    people.user("ann@acme.test", name="Ann Owner")
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, "ann@acme.test")
    page.get_by_role("link", name="New appointment").click()
    page.get_by_label("Title").fill("Check-up by phone")
    page.get_by_label("Start (UTC)").fill("2030-02-04T10:00")
    page.get_by_label("End (UTC)").fill("2030-02-04T09:00")
    page.get_by_label("Contact email").fill("pat@example.com")
    page.get_by_label("Contact name").fill("Pat Lee")
    page.get_by_role("button", name="Create appointment").click()
    expect(page.get_by_text("The end must be after the start.")).to_be_visible()
    expect(page.get_by_label("Contact name")).to_have_value("Pat Lee")
    shot(page, "appointment-form-errors")
    page.get_by_label("End (UTC)").fill("2030-02-04T10:30")
    page.get_by_role("button", name="Create appointment").click()
    expect(page.get_by_role("heading", name="Check-up by phone")).to_be_visible()
    expect(page.get_by_text("Appointment created.")).to_be_visible()
    shot(page, "appointment-portal")

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Title").fill("Check-up (moved)")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Check-up (moved)")).to_be_visible()

    page.get_by_role("link", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete this appointment?")
    expect(dialog).to_be_visible()
    shot(page, "appointment-delete-modal")
    dialog.get_by_role("button", name="Delete appointment").click()
    expect(page.get_by_text("Appointment “Check-up (moved)” deleted.")).to_be_visible()
    expect(page.get_by_role("link", name="Check-up (moved)")).to_have_count(0)


def test_contact_search_as_you_type(page, live_server, people, rows):
    people.user("ann@acme.test", name="Ann Owner")
    rows.contact(name="Grace Hopper", email="grace@example.com")
    rows.contact(name="Alan Turing", email="alan@example.com")
    sign_in(page, live_server, "ann@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    expect(page.get_by_role("link", name="Alan Turing")).to_be_visible()
    page.wait_for_load_state()  # htmx (a deferred script) is listening from here on
    page.get_by_label("Search contacts").fill("grace")
    expect(page.get_by_role("link", name="Alan Turing")).to_have_count(0)
    expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible()
    assert "q=grace" in page.url
    # A screen reader hears the count, politely, not the whole list again (the list is no live region).
    announcer = page.locator("#live-announcer")
    expect(announcer).to_have_text("1 contact found")
    assert page.locator("#contact-results").evaluate("el => el.closest('[aria-live]') === null")
    page.get_by_label("Search contacts").fill("example")
    expect(page.get_by_role("link", name="Alan Turing")).to_be_visible()
    expect(announcer).to_have_text("2 contacts found")


def test_screenshots_of_every_page(page, live_server, people, rows):
    """A realistic subaccount, photographed page by page (looked at by a human)."""
    ann = people.user("ann@acme.test", name="Ann Owner", role="admin")
    ben = people.user("ben@acme.test", name="Ben Host")
    people.user("ann@acme.test", subaccount="Brightside Realty")
    now = utcnow().replace(second=0, microsecond=0)
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0)
    names = [("Grace Hopper", "grace@example.com"), ("Alan Turing", "alan@example.com"),
             ("Ada Lovelace", "ada@example.com"), ("Katherine Johnson", "katherine@example.com"),
             ("Edsger Dijkstra", "edsger@example.com"), ("Barbara Liskov", "barbara@example.com"),
             ("", "guest.only@example.com"), ("Margaret Hamilton", "margaret@example.com")]
    contacts = [rows.contact(name=n, email=e, assigned_user=(ann if i % 3 else ben),
                             created_at=now - timedelta(days=40 - i)) for i, (n, e) in enumerate(names)]
    slots = [(0, 9, "Dental cleaning", "Cleaning"), (0, 11, "Intro call", "Intro call"), (1, 10, "Check-up", "Check-up"),
             (2, 9, "Intro call", "Intro call"), (2, 14, "Whitening consult", "Consultations"),
             (3, 16, "Dental cleaning", "Cleaning"), (4, 8, "Check-up", "Check-up"), (4, 13, "Intro call", "Intro call"),
             (7, 10, "Dental cleaning", "Cleaning"), (8, 15, "Check-up", "Check-up"), (-3, 10, "Intro call", "Intro call")]
    made = []
    for i, (day, hour, title, calendar) in enumerate(slots):
        c = contacts[i % len(contacts)]
        made.append(rows.appointment(
            title=title, calendar=calendar, start=monday + timedelta(days=day, hours=hour), contact=c,
            owner=(ann if i % 2 else ben), owner_reason=("O1: personal calendar of Ann Owner" if i % 2
                                                          else "O2: round robin, chosen among 2 members"),
            guests=[contacts[(i + 3) % len(contacts)]] if i % 4 == 0 else []))
    rows.appointment(title="Check-up (booked by phone)", source=Source.PORTAL, start=monday + timedelta(days=3, hours=11),
                     contact=contacts[0], owner=ann, owner_reason="Created in the portal by Ann Owner")
    rows.appointment(title="Intro call", start=monday + timedelta(days=1, hours=15), contact=contacts[2],
                     status=AppointmentStatus.CANCELLED, owner=ben, calendar="Intro call")
    with db.connection_context():
        for c in contacts:
            refresh_assigned_user(c)  # O3, as the sync leaves it
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, "ann@acme.test")
    shot(page, "dashboard")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendars").click()
    page.get_by_role("link", name="All", exact=True).click()
    expect(page.get_by_role("table")).to_be_visible()
    shot(page, "calendars-list")
    page.get_by_role("link", name="Week", exact=True).click()
    today = utcnow().date()
    expect(page.get_by_role("listitem", name=f"{today:%A} {today.day} {today:%B}")
           .get_by_role("heading", name=re.compile(r"\(today\)"))).to_be_visible()
    shot(page, "week")
    page.goto(f"{live_server}/calendars/appointments/{made[0].id}")
    expect(page.get_by_text("Managed in Calendly")).to_be_visible()
    shot(page, "appointment-calendly")
    page.goto(f"{live_server}/contacts/")
    shot(page, "contacts-list")
    page.get_by_role("link", name="Grace Hopper").click()
    expect(page.get_by_text("Owner of the latest booking: the owner", exact=False)).to_be_visible()
    shot(page, "contact-detail")
    page.goto(f"{live_server}/contacts/new")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_role("button", name="Add contact").click()
    expect(page.get_by_text("A contact with this email already exists")).to_be_visible()
    shot(page, "contact-duplicate")
    page.goto(f"{live_server}/calendars/appointments/999999")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    shot(page, "error-404")


def test_when_the_session_ends_the_live_list_goes_to_the_sign_in_page(page, live_server, people):
    people.user("ann@acme.test", name="Ann Owner")
    sign_in(page, live_server, "ann@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendars").click()
    expect(page.get_by_text("No appointments yet.")).to_be_visible()
    page.context.clear_cookies()  # as if the session expired
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=10_000)
    assert "/signin" in page.url
    expect(page.get_by_role("heading", name="Calendars")).to_have_count(0)
