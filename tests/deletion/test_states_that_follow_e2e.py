"""Feedback that does not mislead (issue 16 item 6), in a real browser, by role and visible text.

- after the import the Connections row's Last sync counts what was imported;
- a deletion's notice does not say "Deleting…" once the deletion is Done;
- the shared-calendar notice follows the other member's answer on the open page (a Keep keeps the events);
- notices have the colour and the role of what they say: a refusal is not a green success.
"""
import re

import pytest
from playwright.sync_api import expect
from browser_steps import open_connections, sign_in

from portal.extensions import db
from portal.models import Appointment
from deletion_helpers import answer, save_edit, untick_and_save, wait_for_appointment

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GREEN, AMBER, BLUE = "rgb(236, 253, 245)", "rgb(255, 251, 235)", "rgb(239, 246, 255)"


def test_last_sync_counts_the_import_and_the_deletion_notice_ends_with_done(page, live_server, team, worker):
    booked = [team.book(team.cleaning), team.book(team.cleaning), team.book(team.cleaning)]
    team.connect(team.ann, "ann@cal.test", ["Cleaning", "Whitening"], imported=booked)

    sign_in(page, live_server, "ann@acme.test")
    open_connections(page)
    row = page.get_by_role("row", name=re.compile("ann@cal.test"))
    expect(row).to_contain_text("Imported 3 bookings")
    expect(row.get_by_text("No bookings received yet")).to_have_count(0)

    answer(untick_and_save(page, "Cleaning", row=row), "Delete permanently")
    notice = page.get_by_role("status").filter(has_text="Cleaning removed.")
    expect(notice).to_be_visible()
    expect(notice).to_have_css("background-color", GREEN)  # a success
    task = page.get_by_role("region", name="Deletions").get_by_role("group", name="Deleting events of Cleaning")
    expect(task.get_by_text("Done", exact=True)).to_be_visible(timeout=20_000)
    expect(task).to_contain_text("3 events deleted on")
    # Nothing on the page still says the deletion is going on.
    expect(page.get_by_text(re.compile(r"Deleting\b|in the background"))).to_have_count(0)


def test_the_shared_calendar_notice_follows_the_other_members_keep(page, live_server, team, worker, client, auth):
    bob_conn = team.connect(team.bob, "bob@cal.test", ["Consult", "Team intake"])
    intake = [team.book(team.intake), team.book(team.intake)]
    team.connect(team.ann, "ann@cal.test", ["Cleaning", "Team intake"], imported=intake)

    sign_in(page, live_server, "ann@acme.test")
    open_connections(page)
    answer(untick_and_save(page, "Team intake"), "Delete permanently")
    waiting = page.get_by_role("status").filter(has_text="stay visible until the 1 other member who connected it "
                                                          "also chooses Delete")
    expect(waiting).to_be_visible()

    # Bob answers Keep in his own session; Ann's open page follows without a reload.
    auth.login("bob@acme.test")
    assert save_edit(client, bob_conn, [team.consult], [(team.intake, "keep")]).status_code < 400
    kept = page.get_by_role("status").filter(
        has_text="Team intake is a shared calendar: its 2 events stay in Calbridge, because the 1 other member "
                 "who connected it chose Keep.")
    expect(kept).to_be_visible(timeout=10_000)
    expect(page.get_by_text("until the 1 other member who connected it also chooses Delete")).to_have_count(0)
    with db.connection_context():
        assert Appointment.select().where(Appointment.event_type_uri == team.intake["uri"]).count() == 2


def test_a_refusal_is_an_amber_alert_and_information_is_blue(page, live_server, team, worker):
    booked = team.book(team.cleaning)
    team.connect(team.ann, "ann@cal.test", ["Cleaning"])
    imported = wait_for_appointment(booked)

    sign_in(page, live_server, "ann@acme.test")
    page.goto(f"{live_server}/calendars/appointments/{imported.id}/edit")
    refusal = page.get_by_role("alert").filter(has_text="This appointment is managed in Calendly and can't be "
                                                        "changed here.")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Reschedule or cancel it in Calendly")
    expect(refusal).to_have_css("background-color", AMBER)  # not the green of a success

    page.get_by_role("button", name="Sign out").click()
    signed_out = page.get_by_role("status").filter(has_text="You have been signed out.")
    expect(signed_out).to_be_visible()
    expect(signed_out).to_have_css("background-color", BLUE)  # information, not success
