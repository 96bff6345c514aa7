"""What Calendly changed, as a person sees it in the browser (issue 17): a no-show on the appointment,
a calendar deleted in Calendly and a permission Calendly did not grant on the Connections row."""
import pytest
from playwright.sync_api import expect
from browser_steps import open_connections, shot, sign_in

from portal.calendly.errors import missing_scope_message
from portal.extensions import db
from portal.models import Status, Subaccount
from portal.timeutil import utcnow
from sync.helpers import make_connection, select

pytestmark = pytest.mark.e2e

ET = "https://api.calendly.com/event_types/INTRO-CALL"


def test_no_show_and_deleted_calendar_and_missing_permission_are_shown(page, live_server, people, rows):
    ann = people.user("ann@acme.test", name="Ann Owner")
    with db.connection_context():
        connection = make_connection(ann, Subaccount.get(name="Acme Dental"), status=Status.RECONNECT_NEEDED,
                                     last_error=missing_scope_message("scheduled_events:read"),
                                     calendly_name="Ann Calendly", backfilled_at=utcnow())
        selection = select(connection, ET, name="Intro call")
        selection.deleted_in_calendly_at = utcnow()
        selection.save()
    grace = rows.contact(name="Grace Hopper", email="grace@example.com")
    rows.appointment(title="Intro call with Grace", contact=grace, owner=ann, calendar="Intro call",
                     no_show_at=utcnow())

    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, "ann@acme.test")
    open_connections(page)
    row = page.get_by_role("row", name=f"Calendly connection {ann.email}")
    expect(row.get_by_text("deleted in Calendly")).to_be_visible()
    expect(row.get_by_text("Reconnect needed")).to_be_visible()
    expect(row.get_by_text("permission to read your scheduled events and their invitees")).to_be_visible()
    expect(row.get_by_role("button", name="Reconnect")).to_be_visible()
    shot(page, "connections-calendly-changes")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendars").click()
    page.get_by_role("link", name="Intro call with Grace").click()
    expect(page.get_by_role("heading", name="Intro call with Grace")).to_be_visible()
    expect(page.get_by_text("No-show").first).to_be_visible()
    expect(page.get_by_text("marked in Calendly")).to_be_visible()
    shot(page, "appointment-no-show")
