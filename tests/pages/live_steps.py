"""Steps the live-page browser tests share: Nina connected to her Calendly (the sandbox) with Intro call
chosen, and an invitee booking on the sandbox's booking page while the portal's pages are open."""
from datetime import datetime

from browser_steps import connect_at_calendly, connected_row, import_calendars, open_connections, sign_in
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Subaccount

# Generous: a booking goes sandbox -> webhook -> worker -> page on a busy 2-core machine.
ARRIVES = 20_000


def connect_nina(page, live_server, sandbox, people, time_zone=None):
    """Nina's portal account (in Acme Dental, set to ``time_zone`` if given) connected to her Calendly with
    Intro call imported; returns that event type."""
    people.user("nina@acme.test", name="Nina Owner")
    if time_zone:
        with db.connection_context():
            Subaccount.update(time_zone=time_zone).where(Subaccount.name == "Acme Dental").execute()
    sandbox.create_user("nina@calendly.test")
    intro = sandbox.create_event_type("Intro call", hosts=["nina@calendly.test"])
    sign_in(page, live_server, "nina@acme.test")
    open_connections(page)
    connect_at_calendly(page, "nina@calendly.test")
    import_calendars(page, ["Intro call"])
    connected_row(page, "nina@calendly.test")
    return intro


def book_first_free_time(page, scheduling_url, name, email):
    """An invitee books the first free time on the sandbox's booking page; returns its start (aware, UTC)."""
    page.goto(scheduling_url)
    expect(page.get_by_role("heading", name="Intro call")).to_be_visible()
    slot = page.get_by_role("radio").first
    start = slot.get_attribute("value")
    slot.check()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Schedule Event").click()
    expect(page.get_by_role("heading", name="You are scheduled")).to_be_visible()
    return datetime.fromisoformat(start.replace("Z", "+00:00"))


def first_free_day(page, scheduling_url):
    """The day (YYYY-MM-DD, UTC) of the first free time on the booking page."""
    page.goto(scheduling_url)
    return page.get_by_role("radio").first.get_attribute("value")[:10]
