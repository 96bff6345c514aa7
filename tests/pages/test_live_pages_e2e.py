"""Live pages in a real browser (issue 19): a booking made on the sandbox's booking page shows up on
the open Calendars list, week view and dashboard without a reload; an open list shows new, cancelled,
edited and deleted appointments in place, keeping the rows that did not change; and an open page
catches up by itself after the portal's server goes away and comes back."""
import re
import threading

import pytest
import requests
from playwright.sync_api import expect
from werkzeug.serving import make_server
from browser_steps import shot, sign_in
from live_steps import ARRIVES, book_first_free_time, connect_nina, first_free_day

from portal.devstack import wait_for_http

pytestmark = pytest.mark.e2e


def _mark_document(page):
    page.evaluate("window.__sameDocument = true")


def _same_document(page):
    return page.evaluate("window.__sameDocument === true")


def test_a_booking_on_the_booking_page_appears_on_open_pages_without_reloading(
        page, live_server, sandbox, people, worker):
    intro = connect_nina(page, live_server, sandbox, people)
    context = page.context
    invitee = context.new_page()
    day = first_free_day(invitee, intro["scheduling_url"])

    calendars = page
    calendars.get_by_role("navigation", name="Main").get_by_role("link", name="Calendars").click()
    expect(calendars.get_by_text("No appointments yet.")).to_be_visible()
    week = context.new_page()
    week.goto(f"{live_server}/calendars/week?start={day}")
    expect(week.get_by_role("list", name=re.compile("Week of"))).to_be_visible()
    dashboard = context.new_page()
    dashboard.goto(f"{live_server}/dashboard")
    expect(dashboard.get_by_role("heading", name="Dashboard")).to_be_visible()
    connections = context.new_page()
    connections.goto(f"{live_server}/calendars/settings/connections")
    expect(connections.get_by_role("row", name=re.compile("nina@calendly.test"))).to_be_visible()
    expect(connections.get_by_text("Last booking received")).to_have_count(0)
    watching = (calendars, week, dashboard, connections)
    for p in watching:
        p.wait_for_load_state()
        _mark_document(p)

    book_first_free_time(invitee, intro["scheduling_url"], "Jordan Rivera", "jordan@example.com")

    expect(calendars.get_by_role("link", name="Jordan Rivera")).to_be_visible(timeout=ARRIVES)
    expect(calendars.get_by_text("No appointments yet.")).to_have_count(0)
    # A short event in the time grid shows its time and title; the guest is in its markup (and its link title).
    expect(week.locator("#live-week").get_by_text("Jordan Rivera")).to_be_attached(timeout=ARRIVES)
    expect(dashboard.get_by_role("region", name="Recent imports").get_by_text("Jordan Rivera")).to_be_visible(
        timeout=ARRIVES)
    expect(connections.get_by_text("Last booking received")).to_be_visible(timeout=ARRIVES)
    assert all(_same_document(p) for p in watching), "a page was reloaded instead of updated in place"
    shot(calendars, "live-calendars-after-booking")
    shot(week, "live-week-after-booking")
    shot(dashboard, "live-dashboard-after-booking")

    # The contact page, open when the same person books again, lists the new appointment too.
    calendars.get_by_role("link", name="Jordan Rivera").first.click()
    expect(calendars.get_by_role("heading", name="Jordan Rivera")).to_be_visible()
    booked = calendars.get_by_role("region", name=re.compile("^Appointments"))
    expect(booked.get_by_role("link", name=re.compile("Intro call"))).to_have_count(1)
    calendars.wait_for_load_state()
    _mark_document(calendars)
    book_first_free_time(invitee, intro["scheduling_url"], "Jordan Rivera", "jordan@example.com")
    expect(booked.get_by_role("link", name=re.compile("Intro call"))).to_have_count(2, timeout=ARRIVES)
    assert _same_document(calendars)


def _serve(app, port):
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_an_open_page_catches_up_by_itself_after_the_portal_restarts(
        page, live_server, sandbox, people, worker, _live_http, live_app, stack):
    intro = connect_nina(page, live_server, sandbox, people)
    invitee = page.context.new_page()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendars").click()
    expect(page.get_by_text("No appointments yet.")).to_be_visible()
    page.wait_for_load_state()
    _mark_document(page)

    # The portal's server goes away; the open page's asks fail (the Calendars list asks its own URL,
    # /calendars/?…&v=<fingerprint>; other live pages ask /live?…).
    with page.expect_event("requestfailed", lambda r: "/live?" in r.url or "/calendars/?" in r.url,
                           timeout=ARRIVES):
        _live_http.shutdown()
        _live_http.server_close()
    try:
        requests.get(live_server + "/signin", timeout=2)
        raise AssertionError("the portal still answers after its server was stopped")
    except requests.ConnectionError:
        pass
    # ... and comes back on the same address (later tests use this one; the fixture's old server is closed).
    _serve(live_app, stack["portal_port"])
    wait_for_http(live_server + "/signin")

    book_first_free_time(invitee, intro["scheduling_url"], "Ada Lovelace", "ada@example.com")
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible(timeout=ARRIVES)
    assert _same_document(page), "the page was reloaded instead of catching up in place"


def test_an_open_calendars_list_shows_a_new_a_cancelled_an_edited_and_a_deleted_appointment_in_place(
        page, live_server, people, rows):
    people.user("ann@acme.test", name="Ann Owner")
    rows.appointment(title="Already listed")
    sign_in(page, live_server, "ann@acme.test")
    listing = page
    listing.goto(f"{live_server}/calendars/?when=all")
    expect(listing.get_by_role("link", name="Already listed")).to_be_visible()
    listing.wait_for_load_state()
    _mark_document(listing)
    # The row already shown is kept as it is (merged by row), not drawn again with the whole table.
    listing.get_by_role("row", name=re.compile("Already listed")).evaluate("tr => { tr.__kept = true; }")

    other = listing.context.new_page()
    other.goto(f"{live_server}/calendars/appointments/new")
    other.get_by_label("Title").fill("Check-up by phone")
    other.get_by_label("Start (UTC)").fill("2030-02-04T10:00")
    other.get_by_label("End (UTC)").fill("2030-02-04T10:30")
    other.get_by_label("Contact email").fill("pat@example.com")
    other.get_by_role("button", name="Create appointment").click()
    expect(other.get_by_role("heading", name="Check-up by phone")).to_be_visible()
    row = listing.get_by_role("row", name=re.compile("Check-up"))
    expect(row.get_by_role("link", name="Check-up by phone")).to_be_visible(timeout=ARRIVES)

    other.get_by_label("Set status").select_option(label="Cancelled")
    other.get_by_role("button", name="Set status").click()
    expect(other.get_by_text("Status: Cancelled.")).to_be_visible()
    expect(row.get_by_text("Cancelled")).to_be_visible(timeout=ARRIVES)

    other.get_by_role("link", name="Edit").click()
    other.get_by_label("Title").fill("Check-up (moved)")
    other.get_by_role("button", name="Save changes").click()
    expect(other.get_by_role("heading", name="Check-up (moved)")).to_be_visible()
    expect(listing.get_by_role("link", name="Check-up (moved)")).to_be_visible(timeout=ARRIVES)
    expect(listing.get_by_role("link", name="Check-up by phone")).to_have_count(0)

    other.get_by_role("link", name="Delete").click()
    other.get_by_role("dialog", name="Delete this appointment?").get_by_role(
        "button", name="Delete appointment").click()
    expect(other.get_by_text("Appointment “Check-up (moved)” deleted.")).to_be_visible()
    expect(listing.get_by_role("link", name="Check-up (moved)")).to_have_count(0, timeout=ARRIVES)

    expect(listing.get_by_role("link", name="Already listed")).to_be_visible()
    assert listing.get_by_role("row", name=re.compile("Already listed")).evaluate("tr => tr.__kept === true")
    assert _same_document(listing), "the list page was reloaded instead of updated in place"
