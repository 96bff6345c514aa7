"""New bookings are announced to screen readers (issue 16, item 4): a booking made on the sandbox's
booking page while the Calendars list is open is said once, politely, in words and local time
("1 new booking: Intro call with Jordan Rivera at 9:00 AM on …"), and the list itself is not a live
region, so it is not read out again."""
import re
from datetime import timezone

import pytest
from browser_steps import shot
from live_steps import ARRIVES, book_first_free_time, connect_nina, first_free_day
from playwright.sync_api import expect

from portal import localtime

pytestmark = pytest.mark.e2e

ZONE = "America/Chicago"


def _book(page, scheduling_url, name, email):
    """The first free time on the booking page; returns what the announcement says of its start."""
    utc = book_first_free_time(page, scheduling_url, name, email).astimezone(timezone.utc).replace(tzinfo=None)
    tz = localtime.zone(ZONE)
    return f"at {localtime.clock(utc, tz)} on {localtime.day(utc, tz)}."


def test_a_new_booking_is_announced_politely_once_and_the_list_is_not_read_again(
        page, live_server, sandbox, people, worker):
    intro = connect_nina(page, live_server, sandbox, people, time_zone=ZONE)
    invitee = page.context.new_page()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendars").click()
    expect(page.get_by_text("No appointments yet.")).to_be_visible()
    page.wait_for_load_state()
    announcer = page.locator("#live-announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    expect(announcer).to_have_attribute("role", "status")
    expect(announcer).to_have_text("")
    # Only the announcer speaks: the refreshed list is not itself a live region.
    assert page.locator("#appointments").evaluate("el => el.closest('[aria-live]') === null")

    said = _book(invitee, intro["scheduling_url"], "Jordan Rivera", "jordan@example.com")
    expect(page.get_by_role("link", name="Jordan Rivera")).to_be_visible(timeout=ARRIVES)
    expect(announcer).to_have_text(re.compile(r"^1 new booking: Intro call.* with Jordan Rivera " + re.escape(said) + "$"))
    assert re.search(r"\b(AM|PM)\b", said), "the time is said in the subaccount's local 12-hour clock"
    shot(page, "live-announcement")

    # The next booking is said alone: the first is not announced again.
    said = _book(invitee, intro["scheduling_url"], "Ada Lovelace", "ada@example.com")
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible(timeout=ARRIVES)
    expect(announcer).to_have_text(re.compile(r"^1 new booking: Intro call.* with Ada Lovelace " + re.escape(said) + "$"))
    expect(announcer).not_to_contain_text("Jordan")


def test_the_month_view_announces_a_new_booking_as_the_list_and_the_week_do(
        page, live_server, sandbox, people, worker):
    intro = connect_nina(page, live_server, sandbox, people, time_zone=ZONE)
    invitee = page.context.new_page()
    day = first_free_day(invitee, intro["scheduling_url"])
    page.goto(f"{live_server}/calendars/month?start={day}")
    expect(page.get_by_role("table", name=re.compile(r"\d{4}$"))).to_be_visible()
    page.wait_for_load_state()
    announcer = page.locator("#live-announcer")
    expect(announcer).to_have_text("")
    assert page.locator("#live-month").evaluate("el => el.closest('[aria-live]') === null")

    said = _book(invitee, intro["scheduling_url"], "Jordan Rivera", "jordan@example.com")
    expect(page.locator("#live-month").get_by_role("link", name=re.compile("Intro call"))).to_have_count(
        1, timeout=ARRIVES)
    expect(announcer).to_have_text(re.compile(r"^1 new booking: Intro call.* with Jordan Rivera " + re.escape(said) + "$"))
    shot(page, "live-announcement-month")

