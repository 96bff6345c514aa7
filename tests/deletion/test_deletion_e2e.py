"""Edit, Keep / Delete permanently and Disconnect in a real browser (SPEC D1-D5, O3, C7)."""
import re

import pytest
from playwright.sync_api import expect
from browser_steps import open_connections, sign_in
from browser_steps import shot as _shot

from sync.helpers import wait_for

from portal.extensions import db
from portal.models import Appointment, CalendlyConnection, Contact, Status
from deletion_helpers import answer, appointment, count, fill, open_edit, untick_and_save, wait_for_appointment

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def fresh(model, row):
    with db.connection_context():
        return model.get_by_id(row.id)


def test_edit_keep_delete_and_disconnect(page, live_server, team, worker, sandbox):
    # Carol booked Bob's Consult first, then Ann's Cleaning: she is assigned to Ann (O3).
    bob_conn = team.connect(team.bob, "bob@cal.test", ["Consult"])
    carol_consult = team.book(team.consult, email="carol@example.com", name="Carol Diaz")
    wait_for_appointment(carol_consult)
    cleaning = [team.book(team.cleaning, email="carol@example.com", name="Carol Diaz"),
                team.book(team.cleaning, email="dan@example.com", name="Dan Eng")]
    whitening = team.book(team.whitening, email="erin@example.com", name="Erin Fox")
    intake = team.book(team.intake, email="finn@example.com", name="Finn Gray")
    conn = team.connect(team.ann, "ann@cal.test", ["Cleaning", "Whitening", "Team intake"])
    with db.connection_context():
        carol = Contact.get(Contact.email_normalized == "carol@example.com")
        contacts = Contact.select().count()
    assert carol.assigned_user_id == team.ann.id and bob_conn.status == Status.CONNECTED

    sign_in(page, live_server, "ann@acme.test")
    open_connections(page)
    row = page.get_by_role("row", name=re.compile("ann@cal.test"))
    expect(row).to_contain_text("Whitening")

    # 1. Edit, remove Whitening, Keep.
    dialog = open_edit(page, row)
    expect(dialog.get_by_label("Cleaning")).to_be_checked()
    expect(dialog.get_by_label("Whitening")).to_be_checked()
    expect(dialog.get_by_label("Team intake")).to_be_checked()
    shot(page, "edit-modal")
    question = untick_and_save(page, "Whitening", dialog=dialog)
    expect(question.get_by_role("group", name="Whitening · 1 event")).to_be_visible()
    expect(question.get_by_role("button", name="Save")).to_be_disabled()
    question.get_by_label("Keep").check()
    shot(page, "keep-delete-question")
    answer(question, "Keep")
    expect(page.get_by_text("Whitening removed. Its 1 event stays in Calbridge.")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("ann@cal.test"))
    expect(row.get_by_text("Whitening")).to_have_count(0)
    assert appointment(whitening) is not None

    # 2. Edit, remove Cleaning, Delete permanently.
    dialog = open_edit(page, row)
    expect(dialog.get_by_label("Whitening")).not_to_be_checked()
    question = untick_and_save(page, "Cleaning", dialog=dialog)
    expect(question).to_contain_text("Cleaning · 2 events")
    answer(question, "Delete permanently")
    expect(page.get_by_text("Cleaning removed. Its 2 events are deleted in batches: Deletions below shows the progress.")).to_be_visible()
    deletions = page.get_by_role("region", name="Deletions")
    cleaning_task = deletions.get_by_role("group", name="Deleting events of Cleaning")
    expect(cleaning_task.get_by_text("Done", exact=True)).to_be_visible(timeout=20_000)
    expect(cleaning_task).to_contain_text("2 events deleted on")
    shot(page, "delete-done")
    assert all(appointment(i) is None for i in cleaning)
    assert appointment(whitening) is not None and appointment(carol_consult) is not None
    with db.connection_context():
        assert Contact.select().count() == contacts  # contacts stay
    assert fresh(Contact, carol).assigned_user_id == team.bob.id  # O3: now her Consult's owner

    # The appointments list no longer shows Cleaning; Carol is still a contact.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    expect(page.get_by_role("link", name="Carol Diaz")).to_be_visible()

    # 3. Disconnect, Delete permanently.
    open_connections(page)
    page.get_by_role("row", name=re.compile("ann@cal.test")).get_by_role("button", name="Disconnect").click()
    dialog = page.get_by_role("dialog", name="Disconnect Calendly")
    expect(dialog).to_contain_text("Team intake")
    expect(dialog.get_by_role("group", name=re.compile("All events synced from Calendly"))).to_be_visible()
    dialog.get_by_label("Delete permanently").check()
    shot(page, "disconnect-question")
    dialog.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_text("Calendly disconnected (ann@cal.test).")).to_be_visible()
    expect(page.get_by_text("No calendar connected yet.")).to_be_visible()
    past = page.get_by_role("region", name="Disconnected")
    expect(past.get_by_role("row", name=re.compile("ann@cal.test"))).to_contain_text("Disconnected")
    intake_task = page.get_by_role("group", name="Deleting events of Team intake")
    expect(intake_task.get_by_text("Done", exact=True)).to_be_visible(timeout=20_000)
    expect(intake_task).to_contain_text("1 event deleted on")
    shot(page, "disconnected")

    assert appointment(intake) is None
    with db.connection_context():
        assert not Appointment.select().where(Appointment.event_type_uri.in_(
            [team.cleaning["uri"], team.intake["uri"]])).exists()
        assert Contact.select().count() == contacts
    conn = fresh(CalendlyConnection, conn)
    assert conn.status == Status.DISCONNECTED
    (subscription,) = [s for s in sandbox.subscriptions() if s["uri"] == conn.webhook_subscription_uri]
    assert subscription["deleted"]
    ann_uuid = conn.calendly_user_uri.rsplit("/", 1)[1]
    assert all(t["revoked"] or t.get("rotated") for t in sandbox.tokens() if t["user"].endswith(ann_uuid))


def test_a_large_deletion_shows_its_progress_on_the_page(page, live_server, team, worker):
    conn = team.connect(team.ann, "ann@cal.test", ["Cleaning", "Whitening"])
    with db.connection_context():
        fill(team, conn)
    sign_in(page, live_server, "ann@acme.test")
    open_connections(page)
    question = untick_and_save(page, "Cleaning")
    expect(question).to_contain_text("Cleaning · 10,000 events")
    answer(question, "Delete permanently")

    bar = page.get_by_role("progressbar", name="Deletion progress of Cleaning")
    expect(bar).to_be_visible()
    page.evaluate("window.__samePage = true")
    # It moves while the job runs, without reloading the page.
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^([1-9]\d?)$"), timeout=30_000)
    expect(page.get_by_role("group", name="Deleting events of Cleaning")).to_contain_text(re.compile(r"\d+%"))
    shot(page, "progress")
    task = page.get_by_role("group", name="Deleting events of Cleaning")
    expect(task.get_by_text("Done", exact=True)).to_be_visible(timeout=120_000)
    expect(task).to_contain_text(re.compile(r"Contacts were kept"))
    expect(task).to_contain_text(re.compile(r"(?<! of )10,000 events deleted on"))
    expect(bar).to_have_count(0)
    assert page.evaluate("window.__samePage === true")
    wait_for(lambda: count(team.cleaning) == 0, message="every appointment deleted")


def test_shared_calendar_waits_for_the_other_member_and_admins_see_the_activity(page, live_server, team, worker,
                                                                                people):
    people.user("boss@acme.test", name="Boss Admin", role="admin")
    team.connect(team.bob, "bob@cal.test", ["Consult", "Team intake"])
    intake = [team.book(team.intake), team.book(team.intake), team.book(team.intake)]
    team.connect(team.ann, "ann@cal.test", ["Cleaning", "Team intake"], imported=intake)

    sign_in(page, live_server, "ann@acme.test")
    open_connections(page)
    question = untick_and_save(page, "Team intake")
    expect(question).to_contain_text("1 other member still has it selected or chose Keep")
    question.get_by_label("Delete permanently").check()
    shot(page, "shared-question")
    answer(question, "Delete permanently")
    waiting = ("Team intake is a shared calendar: its 3 events stay visible until the 1 other member who "
               "connected it also chooses Delete.")
    expect(page.get_by_text("Team intake removed.")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text=waiting)).to_be_visible()
    shot(page, "shared-waiting")
    assert all(appointment(i) is not None for i in intake)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, "boss@acme.test")
    open_connections(page)
    page.get_by_role("navigation", name="Calendar Settings").get_by_role("link", name="Activity").click()
    table = page.get_by_role("table", name="Audit log of Acme Dental")
    row = table.get_by_role("row").filter(has_text="Removed a calendar, deleting its events")
    expect(row).to_contain_text("Team intake")
    expect(row).to_contain_text("ann@acme.test")
    expect(row).to_contain_text("until the 1 other member also chooses Delete")
    shot(page, "activity")


def shot(page, name):
    _shot(page, "deletion-" + name)
