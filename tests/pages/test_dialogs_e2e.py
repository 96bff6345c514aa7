"""Modals in a real browser (issue 16, item 4): every modal is a native modal <dialog>. Opening one
moves focus into it (its first field, else its heading), Tab and Shift+Tab stay inside, Escape and
Cancel close it, and focus goes back to the control that opened it, also after a Save that reloads
the page."""
import re

import pytest
from browser_steps import connect_at_calendly, connected_row, import_calendars, open_connections, shot, sign_in
from playwright.sync_api import expect

from sync.helpers import one_of_each

pytestmark = pytest.mark.e2e

TEAM = "/settings/team/"


def _focus_is_inside(page, dialog):
    """True when the focused element is inside ``dialog`` (a Locator of an open dialog)."""
    return dialog.evaluate("d => d.open && d.contains(document.activeElement) && document.activeElement !== document.body")


def _tab_around(page, dialog, presses=12):
    """Tab and Shift+Tab well past the dialog's controls: focus must never reach the page behind it."""
    for key in ["Tab"] * presses + ["Shift+Tab"] * presses:
        page.keyboard.press(key)
        assert _focus_is_inside(page, dialog), f"after {key} focus left the dialog"


def _escape_gives_focus_back(page, dialog, opener):
    """Escape closes ``dialog`` and focus goes back to the control that opened it."""
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()


def _focus_goes_in_stays_and_comes_back(page, opener, dialog, first, presses=5):
    """``opener`` opens ``dialog`` with ``first`` focused; Tab stays inside; Escape gives focus back to ``opener``."""
    opener.click()
    expect(first).to_be_focused()
    _tab_around(page, dialog, presses=presses)
    _escape_gives_focus_back(page, dialog, opener)


@pytest.fixture
def admin(app_ctx, people):
    ann = people.user("ann@acme.test", role="admin", name="Ann Admin")
    people.user("uma@acme.test", role="user", name="Uma User")
    from portal.models import Subaccount

    return one_of_each(ann, Subaccount.get(name="Acme Dental"))


def test_the_invite_dialog_takes_focus_keeps_tab_inside_and_escape_gives_focus_back_to_its_opener(
        page, live_server, admin):
    sign_in(page, live_server, "ann@acme.test")
    page.goto(live_server + TEAM)
    page.wait_for_load_state()
    opener = page.get_by_role("link", name="Invite member")
    opener.click()
    dialog = page.get_by_role("dialog", name="Invite member")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Name")).to_be_focused()
    # The page behind is inert while the modal is open.
    assert dialog.evaluate("d => d.matches(':modal')")
    _tab_around(page, dialog)
    shot(page, "dialog-invite-focus")
    _escape_gives_focus_back(page, dialog, opener)

    # Cancel closes it the same way.
    opener.click()
    expect(dialog.get_by_label("Name")).to_be_focused()
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()

    # So does a click on the backdrop beside it (a click inside does not).
    opener.click()
    expect(dialog).to_be_visible()
    dialog.get_by_text("They get an email").click()
    expect(dialog).to_be_visible()
    page.mouse.click(3, 3)
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()


def test_a_refused_invitation_reopens_the_dialog_as_a_modal_and_focus_returns_to_invite_member_after_send(
        page, live_server, admin):
    sign_in(page, live_server, "ann@acme.test")
    page.goto(live_server + TEAM)
    page.wait_for_load_state()
    page.get_by_role("link", name="Invite member").click()
    dialog = page.get_by_role("dialog", name="Invite member")
    dialog.get_by_label("Email").fill("uma@acme.test")
    dialog.get_by_role("button", name="Send invitation").click()
    # The page comes back with the dialog open and the reason: a real modal again, focus inside it.
    expect(dialog.get_by_role("alert")).to_contain_text("already a member")
    expect(dialog.get_by_label("Name")).to_be_focused()
    assert dialog.evaluate("d => d.matches(':modal')")
    _tab_around(page, dialog, presses=8)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("link", name="Invite member")).to_be_focused()

    # A successful Send reloads the page: focus comes back to Invite member there too.
    page.get_by_role("link", name="Invite member").click()
    dialog.get_by_label("Email").fill("vera@example.com")
    dialog.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status").filter(has_text="Invitation sent to vera@example.com")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("link", name="Invite member")).to_be_focused()


def test_the_delete_confirmation_focuses_cancel_and_gives_focus_back_to_delete(page, live_server, admin):
    sign_in(page, live_server, "ann@acme.test")
    page.goto(f"{live_server}/calendars/appointments/{admin['appointment_id']}")
    page.wait_for_load_state()
    dialog = page.get_by_role("dialog", name="Delete this appointment?")
    _focus_goes_in_stays_and_comes_back(page, page.get_by_role("link", name="Delete"), dialog,
                                        dialog.get_by_role("link", name="Cancel"))


def test_the_provider_chooser_focuses_its_heading_and_escape_returns_to_add_new(page, live_server, admin):
    sign_in(page, live_server, "ann@acme.test")
    open_connections(page)
    dialog = page.get_by_role("dialog", name="Add a calendar connection")
    # No field to fill: the heading that names the dialog takes focus, so a screen reader starts there.
    _focus_goes_in_stays_and_comes_back(page, page.get_by_role("button", name="Add New"), dialog,
                                        dialog.get_by_role("heading", name="Add a calendar connection"))


def test_edit_then_save_returns_focus_to_the_edit_button_after_the_page_reloads(
        page, live_server, sandbox, people, worker):
    people.user("nina@acme.test", name="Nina Owner")
    sandbox.create_user("nina@calendly.test")
    sandbox.create_event_type("Intro call", hosts=["nina@calendly.test"])
    sign_in(page, live_server, "nina@acme.test")
    open_connections(page)
    connect_at_calendly(page, "nina@calendly.test")
    select = page.get_by_role("dialog", name="Choose calendars to import")
    expect(select.get_by_label("Intro call")).to_be_focused()  # the first field
    import_calendars(page, ["Intro call"])
    row = connected_row(page, "nina@calendly.test")
    page.wait_for_load_state()

    edit = row.get_by_role("button", name="Edit")
    edit.click()
    dialog = page.get_by_role("dialog", name="Edit imported calendars")
    expect(dialog.get_by_label("Intro call")).to_be_focused()
    _tab_around(page, dialog, presses=8)
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="No changes")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("nina@calendly.test")).get_by_role("button", name="Edit")).to_be_focused()
