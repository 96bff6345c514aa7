"""The subaccount switcher and the bell in a real browser (issue 16, item 8 and small frictions)."""
import re
from datetime import datetime

import pytest
from browser_steps import shot, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

MONDAY = "2030-01-07"


@pytest.fixture
def ann(people):
    """Ann: admin of Acme Dental (where she starts), also a user of Brightside; Hidden Co is not hers."""
    user = people.user("ann@acme.test", role="admin", name="Ann Owner")
    people.user("ann@acme.test", subaccount="Brightside", role="user")
    people.user("zed@hidden.test", subaccount="Hidden Co", role="admin")
    return user


def working_in(page):
    return page.get_by_role("navigation", name="Main").locator(".sidebar-sub")


def test_arrow_keys_only_move_the_choice_and_switch_keeps_the_week_shown(page, live_server, ann, rows):
    rows.appointment(title="Acme cleaning", start=datetime(2030, 1, 8, 15, 0))
    rows.appointment(subaccount="Brightside", title="Brightside viewing", start=datetime(2030, 1, 9, 15, 0))
    sign_in(page, live_server, "ann@acme.test")
    week = f"{live_server}/calendars/week?start={MONDAY}"
    page.goto(week)
    expect(page.get_by_text("Acme cleaning")).to_be_visible()
    page.wait_for_load_state()

    switcher = page.get_by_label("Subaccount")
    switcher.focus()
    page.keyboard.press("ArrowDown")  # in a closed <select> this changes the value at once
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowDown")
    expect(switcher).to_have_value(re.compile(r"\d+"))
    expect(working_in(page)).to_have_text("Acme Dental")
    assert page.url == week  # nothing was submitted
    expect(page.get_by_text("Acme cleaning")).to_be_visible()

    # The explicit choice, from the keyboard: Tab to Switch, Enter.
    switcher.select_option(label="Brightside")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Switch", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(working_in(page)).to_have_text("Brightside")
    expect(page).to_have_url(week)  # the same week view, in the other subaccount
    expect(page.get_by_text("Brightside viewing")).to_be_visible()
    expect(page.get_by_text("Acme cleaning")).to_have_count(0)
    shot(page, "switcher-week-kept")


def test_a_link_to_ones_other_subaccount_offers_the_switch_and_a_foreign_record_is_not_found(
        page, live_server, ann, rows):
    grace = rows.contact(subaccount="Brightside", name="Grace Hopper")
    secret = rows.contact(subaccount="Hidden Co", name="Secret Person")
    sign_in(page, live_server, "ann@acme.test")

    page.goto(f"{live_server}/contacts/{grace.id}")
    expect(page.get_by_role("heading", name="This contact is in Brightside")).to_be_visible()
    expect(page.get_by_text("Grace Hopper")).to_have_count(0)
    shot(page, "switcher-offer")
    page.get_by_role("button", name="Switch to Brightside to open this").click()
    expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    expect(page).to_have_url(f"{live_server}/contacts/{grace.id}")
    expect(working_in(page)).to_have_text("Brightside")

    page.goto(f"{live_server}/contacts/{secret.id}")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_text("Hidden Co")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Switch to"))).to_have_count(0)


def test_the_bell_is_a_drawn_icon_with_a_name_not_a_missing_emoji(page, live_server, ann):
    sign_in(page, live_server, "ann@acme.test")
    bell = page.get_by_role("link", name="Notifications, 0 unread")
    expect(bell).to_be_visible()
    icon = bell.locator("svg")
    expect(icon).to_be_visible()
    box = icon.bounding_box()
    assert box["width"] >= 16 and box["height"] >= 16
    assert icon.locator("path").count() >= 2  # drawn strokes, not an empty box
    assert bell.inner_text().strip() == ""  # no glyph that a font may lack
    bell.click()
    expect(page).to_have_url(re.compile(r"/tasks/notifications$"))
