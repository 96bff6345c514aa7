"""Support staff find dropped webhooks, resync, and read the trace — against the real sandbox (SPEC S2).

The connection is made through the sandbox's OAuth and the portal's connect
service (``sync.helpers.connect_via_sandbox``); bookings are made in the
sandbox; the session's RQ worker applies webhooks and runs the resync.
"""
import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.models import CalendarSelection, CalendlyConnection, Status, Subaccount, SyncDecision
from portal.sync.deletion import KEEP, close_selection
from portal.timeutil import to_iso, utcnow
from sync.helpers import connect_via_sandbox, wait_for

from browser_steps import shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _at(days, hour):
    return to_iso((utcnow() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0))


def _decided(invitee_uri):
    return SyncDecision.select().where(SyncDecision.invitee_uri == invitee_uri).exists()


def test_support_finds_dropped_webhooks_resyncs_and_traces(page, live_server, sandbox, worker, stack, people,
                                                           app_ctx):
    ada = people.user("ada@acme.test", name="Ada Admin", role="admin")
    sub = Subaccount.get(name="Acme Dental")
    sandbox.create_user("ada@cal.test", name="Ada Calendly")
    cleaning = sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    whitening = sandbox.create_event_type("Whitening", hosts=["ada@cal.test"])
    checkup = sandbox.create_event_type("Checkup", hosts=["ada@cal.test"])
    conn = connect_via_sandbox(stack, ada, sub, "ada@cal.test", ["Cleaning", "Checkup"])
    wait_for(lambda: CalendlyConnection.get_by_id(conn.id).status == Status.CONNECTED, timeout=20,
             message="the backfill to finish")

    # While webhooks flow: one booking imported, one on a calendar Ada never selected (W1).
    imported = sandbox.book(cleaning["uri"], _at(2, 9), "Grace Hopper", "grace@example.com")
    unselected = sandbox.book(whitening["uri"], _at(2, 10), "Alan Turing", "alan@example.com")
    wait_for(lambda: _decided(imported["invitee"]) and _decided(unselected["invitee"]), timeout=15,
             message="both webhooks to be applied")

    # Then the sandbox drops every webhook: two Cleaning bookings are missed, and a
    # Checkup booking is made while Checkup is deselected (Keep), before it is selected again (W4).
    sandbox.faults(webhook_drop_rate=1)
    missed = [sandbox.book(cleaning["uri"], _at(3, h), f"Guest {h}", f"guest{h}@example.com") for h in (9, 11)]
    close_selection(conn, checkup["uri"], KEEP)
    while_off = sandbox.book(checkup["uri"], _at(4, 9), "Edsger Dijkstra", "edsger@example.com")
    time.sleep(0.01)  # the new period starts strictly after the old one ended
    CalendarSelection.create(connection=conn, event_type_uri=checkup["uri"], name="Checkup", selected_from=utcnow())
    lost = {b["invitee"] for b in missed + [while_off]}
    wait_for(lambda: lost <= {d["invitee"] for d in sandbox.deliveries() if d["dropped"]}, timeout=15,
             message="the sandbox to drop the three webhooks")
    assert not any(_decided(uri) for uri in lost)

    # Support staff search the console for Ada's Calendly account.
    people.user("support@agency.test", subaccount=None, support=True)
    sign_in(page, live_server, "support@agency.test", landing="Support console")
    page.get_by_label("Search").fill("ada@cal.test")
    expect(page).to_have_url(re.compile(r"q=ada(%40|@)cal\.test"))
    table = page.get_by_role("region", name="Connections")
    row = table.get_by_role("row").filter(has_text="ada@acme.test")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Connected")
    expect(row).to_contain_text("0 pending")  # nothing stuck in the inbox: the webhooks never came
    expect(row).to_contain_text(re.compile(r"Last webhook \d+ (s|min) ago"))  # a loaded machine may take a minute
    expect(row).to_contain_text(re.compile(r"Imported\s+1\s+1"))
    shot(page, "support-e2e-list")

    # On the connection page, Resync now imports what the dropped webhooks missed.
    row.get_by_role("link", name="ada@acme.test").click()
    counts = page.get_by_role("region", name="Bookings", exact=True)
    expect(counts.get_by_role("row", name="Imported 1 1")).to_be_visible()
    expect(counts.get_by_role("row", name="Skipped: Calendar not selected 1 1")).to_be_visible()
    page.get_by_role("button", name="Resync now").click()
    expect(page.get_by_role("status").filter(has_text="Resync started")).to_be_visible()
    # The page refreshes itself while the reconciliation runs.
    expect(counts.get_by_role("row", name="Imported 3 3")).to_be_visible(timeout=20_000)
    expect(counts.get_by_role("row", name="Skipped: Outside sync window 1 1")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("3 bookings imported in the last 7 days"))).to_be_visible()
    timeline = page.get_by_role("region", name=re.compile("^Timeline"))
    expect(timeline.get_by_role("row").filter(has_text="Decision via reconcile")).to_have_count(3)
    shot(page, "support-e2e-connection")

    # The trace explains the two bookings that were not imported, with their rules.
    page.get_by_role("link", name="Booking trace").click()
    field = page.get_by_label("Calendly event or invitee URI, or guest email")
    results = page.get_by_role("region", name="Trace results")
    field.fill(unselected["invitee"])
    page.get_by_role("button", name="Trace").click()
    expect(results).to_contain_text("Not imported in Acme Dental: Calendar not selected")
    expect(results).to_contain_text("W1: calendar not selected")
    field.fill(while_off["invitee"])
    page.get_by_role("button", name="Trace").click()
    expect(results).to_contain_text("Not imported in Acme Dental: Outside sync window")
    expect(results).to_contain_text("W4: created while calendar deselected")
    expect(results.get_by_role("row").filter(has_text="Decision via reconcile")).to_have_count(1)
    shot(page, "support-e2e-trace")

    # Both the resync and nothing else were written to the audit log by support.
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("row", name=re.compile("support.resync"))).to_contain_text("support@agency.test")
