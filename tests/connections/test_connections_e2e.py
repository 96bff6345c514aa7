"""The connect flow in a real browser (SPEC C1): Calendars > Calendar Settings > Connections > Add New >
Calendly > Connect, the sandbox's Calendly sign-in and consent, then calendars, consent and Save."""
import re

import pytest
from playwright.sync_api import expect
from browser_steps import connect_at_calendly, connected_row, import_calendars, open_connections, sign_in
from browser_steps import shot as _shot

from portal.extensions import db
from portal.models import CalendlyConnection

pytestmark = pytest.mark.e2e


def connections():
    with db.connection_context():
        return list(CalendlyConnection.select())


def test_connect_calendly_pick_calendars_consent_and_save(page, live_server, sandbox, people):
    people.user("nina@acme.test", name="Nina Park")
    created = sandbox.create_user("nina@calendly.test", name="Nina Park")
    sandbox.create_user("omar@calendly.test", organization=created["organization"]["uri"])
    sandbox.create_event_type("Intro call", hosts=["nina@calendly.test"])
    sandbox.create_event_type("Follow-up", hosts=["nina@calendly.test"])
    sandbox.create_event_type("Team intake", hosts=["nina@calendly.test", "omar@calendly.test"],
                              pooling_type="round_robin")

    sign_in(page, live_server, "nina@acme.test")
    open_connections(page)
    expect(page.get_by_text("No calendar connected yet.")).to_be_visible()
    shot(page, "empty")

    page.get_by_role("button", name="Add New").click()
    dialog = page.get_by_role("dialog", name="Add a calendar connection")
    expect(dialog.get_by_role("region", name="Google Calendar")).to_contain_text("Not available")
    expect(dialog.get_by_role("region", name="Outlook")).to_contain_text("Not available")
    shot(page, "providers")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    connect_at_calendly(page, "nina@calendly.test")

    # Back in the portal, the calendar selection is open.
    select = page.get_by_role("dialog", name="Choose calendars to import")
    expect(select).to_be_visible()
    expect(select.get_by_label("Intro call")).to_be_visible()
    expect(select.get_by_label("Team intake")).to_be_visible()
    expect(select.get_by_text("Shared · Round robin")).to_be_visible()
    # Leave without saving: the row waits for the choice.
    select.get_by_role("link", name="Cancel").click()
    expect(page.get_by_text("Setup not finished")).to_be_visible()
    page.wait_for_load_state()
    page.get_by_role("button", name="Choose calendars").click()  # the HTMX modal this time
    select = page.get_by_role("dialog", name="Choose calendars to import")

    save = select.get_by_role("button", name="Save")
    consent = select.get_by_label(re.compile("consent"))
    select.get_by_label("Intro call").check()
    select.get_by_label("Team intake").check()
    # Without consent the page refuses to save...
    expect(save).to_be_disabled()
    expect(select.get_by_text("Choose at least one calendar and tick the consent box to save.")).to_be_visible()
    shot(page, "selection")
    # ...and so does the server, should the button be forced.
    save.evaluate("b => b.disabled = false")
    save.click()
    select = page.get_by_role("dialog", name="Choose calendars to import")
    expect(select.get_by_role("alert")).to_contain_text("Tick the consent box")
    expect(select.get_by_label("Intro call")).to_be_checked()  # nothing lost
    assert connections()[0].status == "pending"

    select.get_by_label(re.compile("consent")).check()
    expect(select.get_by_role("button", name="Save")).to_be_enabled()
    select.get_by_role("button", name="Save").click()

    expect(page.get_by_text("Calendly connected. Importing your events…")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("nina@calendly.test"))
    expect(row).to_contain_text("Intro call")
    expect(row).to_contain_text("Team intake")
    expect(row).to_contain_text("Shared")
    expect(row).to_contain_text("Standard")
    expect(row.get_by_text(re.compile(r"^(Importing|Connected)$"))).to_be_visible()
    expect(consent).to_have_count(0)
    shot(page, "connected")
    (conn,) = connections()
    assert conn.status in ("importing", "connected") and conn.webhook_subscription_uri


def test_deny_at_calendly_returns_with_a_message(page, live_server, sandbox, people):
    people.user("nina@acme.test")
    sandbox.create_user("nina@calendly.test")
    sign_in(page, live_server, "nina@acme.test")
    open_connections(page)
    connect_at_calendly(page, "nina@calendly.test", decision="Deny")
    expect(page.get_by_text("Calendly access was not granted.")).to_be_visible()
    expect(page.get_by_text("No calendar connected yet.")).to_be_visible()
    assert connections() == []


def test_forged_state_is_refused(page, live_server, sandbox, people):
    people.user("nina@acme.test")
    sign_in(page, live_server, "nina@acme.test")
    page.goto(live_server + "/connections/calendly/callback?code=stolen-code&state=made-up-state")
    expect(page.get_by_text(re.compile("could not verify this Calendly sign-in"))).to_be_visible()
    expect(page.get_by_text("No calendar connected yet.")).to_be_visible()
    assert connections() == []


def test_free_plan_is_refused_with_its_name(page, live_server, sandbox, people):
    people.user("nina@acme.test")
    sandbox.create_user("nina@calendly.test", plan="basic", stage="free")
    sign_in(page, live_server, "nina@acme.test")
    open_connections(page)
    connect_at_calendly(page, "nina@calendly.test")
    expect(page.get_by_role("alert")).to_contain_text(
        "Your Calendly account is on the Free plan (basic). Calbridge needs Standard, Teams or Enterprise")
    shot(page, "refused-free")
    assert connections() == []


def test_import_progress_updates_in_place_until_connected(page, live_server, sandbox, people, worker):
    from datetime import datetime, timedelta, timezone

    people.user("nina@acme.test")
    sandbox.create_user("nina@calendly.test")
    intro = sandbox.create_event_type("Intro call", hosts=["nina@calendly.test"])
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    for i in range(3):
        sandbox.book(intro["uri"], (start + timedelta(hours=i)).isoformat().replace("+00:00", "Z"),
                     f"Guest {i}", f"guest{i}@example.com")

    sign_in(page, live_server, "nina@acme.test")
    open_connections(page)
    connect_at_calendly(page, "nina@calendly.test")
    import_calendars(page, ["Intro call"])
    expect(page.get_by_text("Calendly connected. Importing your events…")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    # The worker runs the backfill; the status cell polls and settles on Connected.
    row = connected_row(page, "nina@calendly.test")
    expect(row.get_by_role("progressbar")).to_have_count(0)
    assert page.evaluate("window.__sameDocument === true")  # updated in place, no reload
    (conn,) = connections()
    assert conn.status == "connected" and conn.backfill_done == conn.backfill_total == 3


def test_preferences_admin_changes_plain_user_reads(page, live_server, people):
    people.user("boss@acme.test", role="admin")
    people.user("nina@acme.test")
    sign_in(page, live_server, "boss@acme.test")
    open_connections(page)
    page.get_by_role("navigation", name="Calendar Settings").get_by_role("link", name="Preferences").click()
    setting = page.get_by_label("Reflect cancellations and reschedules")
    expect(setting).not_to_be_checked()
    setting.check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Preferences saved.")).to_be_visible()
    expect(page.get_by_label("Reflect cancellations and reschedules")).to_be_checked()
    shot(page, "preferences")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, "nina@acme.test")
    page.goto(live_server + "/calendars/settings/preferences")
    setting = page.get_by_label("Reflect cancellations and reschedules")
    expect(setting).to_be_checked()
    expect(setting).to_be_disabled()
    expect(page.get_by_text("Only admins of Acme Dental can change this setting.")).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)


def shot(page, name):
    _shot(page, "connections-" + name)
