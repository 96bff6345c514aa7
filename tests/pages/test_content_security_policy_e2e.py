"""Every page works in Chromium under the Content-Security-Policy (issue 12, item 5).

Every GET page of ``app.url_map`` is opened as a subaccount admin and as
support staff; the ``page`` fixture fails the test on any CSP violation in
the console. The behaviour moved out of inline handlers into ``app.js`` is
used as a person would: progress bars drawn, the subaccount switcher.
"""
import pytest
from browser_steps import shot, sign_in
from playwright.sync_api import expect

from portal.models import Status, Subaccount
from sync.helpers import get_pages, one_of_each

pytestmark = pytest.mark.e2e

SKIPPED_ENDPOINTS = {"static", "connections.connect_calendly", "connections.calendly_callback"}  # leave the portal


@pytest.fixture
def acme(app_ctx, people):
    ann = people.user("ann@acme.test", role="admin", name="Ann Admin")
    people.user("ann@acme.test", subaccount="Brightside", role="user")
    people.user("staff@agency.test", subaccount=None, support=True)
    return one_of_each(ann, Subaccount.get(name="Acme Dental"), status=Status.IMPORTING, backfill_total=10,
                       backfill_done=4)


@pytest.mark.parametrize("who", ["ann@acme.test", "staff@agency.test"], ids=["subaccount admin", "support staff"])
def test_every_page_loads_in_the_browser_without_a_policy_violation(page, app, live_server, acme, who):
    sign_in(page, live_server, who, landing=None)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    opened = 0
    for path in get_pages(app, acme, SKIPPED_ENDPOINTS):
        page.goto(live_server + path)
        page.wait_for_load_state()
        # Our scripts ran on every full page (fragments have none).
        assert page.evaluate("document.scripts.length === 0 || typeof window.htmx === 'object'"), path
        opened += 1
    assert opened > 15


def test_progress_bars_are_drawn_and_the_subaccount_switcher_switches_on_its_button(page, live_server, acme):
    sign_in(page, live_server, "ann@acme.test")
    bar = page.get_by_role("progressbar", name="Import progress")
    expect(bar).to_have_attribute("aria-valuenow", "40")
    width = bar.evaluate("el => el.firstElementChild.getBoundingClientRect().width / el.getBoundingClientRect().width")
    assert 0.35 < width < 0.45
    shot(page, "dashboard-progress-under-csp")
    page.get_by_label("Subaccount").select_option(label="Brightside")
    page.get_by_role("button", name="Switch", exact=True).click()
    expect(page.get_by_label("Subaccount")).to_have_value(str(Subaccount.get(name="Brightside").id))
    expect(page.get_by_role("navigation", name="Main").get_by_text("Brightside")).to_be_visible()
