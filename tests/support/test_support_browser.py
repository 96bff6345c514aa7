"""The console in a browser, on fixture data: find, open, retry, trace (SPEC S2)."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from browser_steps import shot, sign_in

from portal.models import DeliveryState, Outcome, SkipReason

from .console_helpers import API


def populate(build):
    """A small agency: three subaccounts, five connections, a week of history."""
    h = timedelta(hours=1)
    alice = build.connection("alice@acme.test", "Acme Dental", calendly_email="alice@calendly.test",
                             last_reconciled_at=build.now - 4 * h)
    build.calendar(alice, "Intro call")
    build.calendar(alice, "Cleaning", uuid="CLEAN")
    build.calendar(alice, "Team demo", uuid="DEMO", shared=True, pooling_type="round_robin")
    # A working week's rhythm: bookings in ten busy hours a day, none at night.
    imported = {"day": 0, "week": 0}
    for hours_ago in range(1, 166):
        for n in range((hours_ago * 7) % 5 if hours_ago % 24 < 10 else 0):
            build.decision(alice, ago=(hours_ago - 0.5) * h, email=f"guest{imported['week']}@example.com")
            imported["week"] += 1
            imported["day"] += hours_ago <= 24
    build.decision(alice, Outcome.SKIPPED, SkipReason.NOT_SELECTED, "W1", ago=2 * h,
                   detail="W1: event type Strategy session is not a selected calendar")
    build.decision(alice, Outcome.SKIPPED, SkipReason.OUTSIDE_WINDOW, "W4", ago=30 * h,
                   detail="W4: created while the calendar was deselected (Keep, 10 Nov–12 Nov)")
    build.decision(alice, Outcome.SKIPPED, SkipReason.DUPLICATE, "W6", ago=5 * h, detail="W6: already imported")
    failed = build.delivery(alice, DeliveryState.FAILED, ago=50 * timedelta(minutes=1),
                            invitee=f"{API}/scheduled_events/EFAIL/invitees/IFAIL",
                            error="TransientError: Calendly answered 503 Service Unavailable three times")
    build.delivery(alice, DeliveryState.APPLIED, ago=timedelta(minutes=20),
                   invitee=f"{API}/scheduled_events/EOK/invitees/IOK")

    quiet = build.connection("dan@acme.test", "Acme Dental", calendly_email="dan@calendly.test",
                             webhook_state="disabled", last_webhook_at=build.now - 26 * h,
                             last_reconciled_at=build.now - 2 * h)
    build.calendar(quiet, "Consultation", uuid="CONSULT")
    build.delivery(quiet, DeliveryState.RECEIVED, ago=27 * h)
    build.delivery(quiet, DeliveryState.QUEUED, ago=26 * h)

    build.connection("bob@bright.test", "Bright Smiles", calendly_email="bob@calendly.test",
                     status="reconnect_needed", last_error="Calendly refused the refresh token (invalid_grant)")
    build.connection("carol@bright.test", "Bright Smiles", calendly_email="carol@calendly.test",
                     status="importing", backfill_total=120, backfill_done=45, plan="teams", stage="trial")
    build.connection("erin@city.test", "City Physio", calendly_email="erin@calendly.test",
                     status="plan_not_supported", plan="essentials",
                     last_error="Calendly Essentials has no API or webhook access: upgrade to Standard")
    return alice, quiet, failed, imported


@pytest.mark.e2e
def test_support_staff_find_a_connection_retry_and_trace_in_the_browser(page, live_server, build, people):
    alice, quiet, failed, imported = populate(build)
    people.user("support@agency.test", subaccount=None, support=True)
    sign_in(page, live_server, "support@agency.test", landing="Support console")

    # Support staff land on the console; the list shows every subaccount.
    expect(page.get_by_role("heading", name="Support console")).to_be_visible()
    table = page.get_by_role("region", name="Connections")
    expect(table.get_by_role("row")).to_have_count(6)  # header + 5 connections
    shot(page, "support-list")

    # Filter by status, then search by Calendly email (HTMX swaps the table).
    page.get_by_label("Status", exact=True).select_option(label="Reconnect needed")
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table).to_contain_text("bob@bright.test")
    page.get_by_label("Status", exact=True).select_option(label="All statuses")
    page.get_by_label("Search").fill("dan@calendly")
    expect(page).to_have_url(re.compile(r"q=dan(%40|@)calendly"))
    expect(table.get_by_role("row")).to_have_count(2)
    row = table.get_by_role("row").filter(has_text="dan@acme.test")
    expect(row).to_contain_text("Disabled")
    expect(row).to_contain_text("Last webhook 1 d ago")
    expect(row).to_contain_text("2 pending")

    # Alice's connection: figures, chart, failed delivery with Retry.
    page.get_by_label("Search").fill("alice")
    expect(page).to_have_url(re.compile(r"q=alice"))
    expect(table.get_by_role("row")).to_have_count(2)
    table.get_by_role("link", name="alice@acme.test").click()
    expect(page.get_by_role("heading", name=re.compile("alice@acme.test"))).to_be_visible()
    counts = page.get_by_role("region", name="Bookings", exact=True)
    expect(counts.get_by_role("row", name=f"Imported {imported['day']} {imported['week']}")).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("Bookings imported per hour"))
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("aria-label", re.compile(f"{imported['week']} bookings imported in the last 7 days"))
    failed_region = page.get_by_role("region", name="Failed work")
    expect(failed_region).to_contain_text("Calendly answered 503")
    shot(page, "support-connection")
    failed_region.get_by_role("button", name=f"Retry delivery #{failed.id}").click()
    expect(page.get_by_role("status").filter(has_text=f"Delivery #{failed.id} queued again.")).to_be_visible()
    expect(page.get_by_role("region", name="Failed work")).to_contain_text("No failed deliveries or jobs.")

    # The trace of a booking skipped by W4, found by the guest's email.
    page.get_by_role("link", name="Booking trace").click()
    page.get_by_label("Calendly event or invitee URI, or guest email").fill("guest7@example.com")
    page.get_by_role("button", name="Trace").click()
    results = page.get_by_role("region", name="Trace results")
    expect(results).to_contain_text("Imported in Acme Dental")
    page.get_by_label("Calendly event or invitee URI, or guest email").fill("guest@example.com")
    page.get_by_role("button", name="Trace").click()
    expect(results).to_contain_text("W4: created while the calendar was deselected (Keep, 10 Nov–12 Nov)")
    expect(results).to_contain_text("W1: event type Strategy session is not a selected calendar")
    shot(page, "support-trace")

    # The retry is in the audit log.
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("row", name=re.compile("support.retry"))).to_contain_text("support@agency.test")
    shot(page, "support-audit")
