"""axe-core finds no serious or critical accessibility violation (issue 16, item 4).

Every GET page of ``app.url_map`` (the same sweep as the Content-Security-Policy test, ids from
``one_of_each``) is opened in Chromium by each kind of person: a subaccount admin, a subaccount
user, support staff and an agency admin. Pages with a modal (Add New, Choose calendars, Edit,
Disconnect, Invite member) are drawn with their <dialog> open, and the HTMX-opened modals are
opened by their buttons too. axe-core is the copy vendored in tests/vendor (``make vendor-axe``),
evaluated through the browser's DevTools channel, so the page's own policy stays strict.
"""
import os

import pytest
from browser_steps import sign_in
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Status, Subaccount, User
from sync.helpers import get_pages, one_of_each

pytestmark = pytest.mark.e2e

AXE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "vendor", "axe.min.js")
BLOCKING = ("serious", "critical")
SKIPPED_ENDPOINTS = {"static", "connections.connect_calendly", "connections.calendly_callback",  # leave the portal
                     "live.poll",  # a bare version number, not a page
                     "emails.message"}  # the email as sent (the recipient's mail, in a script-less sandboxed frame)
# Who signs in, and a page of theirs the sweep must have checked (so a sweep that opened nothing fails).
PEOPLE = {
    "subaccount admin": ("ann@acme.test", "/settings/team/"),
    "subaccount user": ("uma@acme.test", "/calendars/"),
    "support staff": ("staff@agency.test", "/support/"),
    "agency admin": ("boss@agency.test", "/agency/"),
}


@pytest.fixture(scope="module")
def axe_source():
    with open(AXE, encoding="utf-8") as f:
        return f.read()


@pytest.fixture
def acme(app_ctx, people):
    ann = people.user("ann@acme.test", role="admin", name="Ann Admin")
    people.user("uma@acme.test", role="user", name="Uma User")
    people.user("staff@agency.test", subaccount=None, support=True)
    boss = people.user("boss@agency.test", subaccount=None, name="Bo Agency")
    with db.connection_context():
        User.update(is_agency_admin=True).where(User.id == boss.id).execute()
    return one_of_each(ann, Subaccount.get(name="Acme Dental"), status=Status.IMPORTING, backfill_total=10,
                       backfill_done=4)


def _violations(page, axe_source):
    """axe's serious and critical violations on the page as it is now: ["rule: target (summary)", ...]."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations'], iframes: false});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' (' + (n.failureSummary || '').split('\\n').slice(1, 2).join('').trim() + ')')}));
    }""")
    return [f"{v['id']} [{v['impact']}] {v['help']}: {'; '.join(v['nodes'])}" for v in found if v["impact"] in BLOCKING]


@pytest.mark.parametrize("who", list(PEOPLE), ids=list(PEOPLE))
def test_no_page_has_a_serious_or_critical_accessibility_violation(page, app, live_server, acme, axe_source, who):
    email, own_page = PEOPLE[who]
    sign_in(page, live_server, email, landing=None)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    problems, opened, refusals = {}, [], set()
    for path in get_pages(app, acme, SKIPPED_ENDPOINTS):
        response = page.goto(live_server + path)
        page.wait_for_load_state()
        if "html" not in (response.headers.get("content-type") or ""):
            continue  # a download (an export, an .eml), not a page
        if not page.evaluate("document.doctype !== null"):
            continue  # an HTMX fragment (a status cell), checked inside the page that shows it
        if response.status >= 400 or response.request.redirected_from is not None:
            # Not this person's page: its refusal (or where it sent them) is checked once, not for every URL.
            key = response.status if response.status >= 400 else response.url
            if key in refusals:
                continue
            refusals.add(key)
        opened.append(path)
        found = _violations(page, axe_source)
        if found:
            problems[path] = found
    assert own_page in opened and len(opened) >= 3, opened
    assert not problems, "\n".join(f"{path}: {found}" for path, found in problems.items())


def _modal_violations(page, axe_source, opener, name):
    """Open the modal ``name`` with its ``opener`` as a person would; axe's findings with it open."""
    opener.click()
    expect(page.get_by_role("dialog", name=name)).to_be_visible()
    return _violations(page, axe_source)


def test_modals_opened_by_their_buttons_have_no_serious_or_critical_violation(page, live_server, acme, axe_source):
    sign_in(page, live_server, "ann@acme.test")
    checked = {}
    for path, opener, name in (
            ("/settings/team/", page.get_by_role("link", name="Invite member"), "Invite member"),
            ("/calendars/settings/connections", page.get_by_role("button", name="Add New"),
             "Add a calendar connection"),
            (None, page.get_by_role("button", name="Disconnect").first, "Disconnect Calendly"),
            (f"/calendars/appointments/{acme['appointment_id']}", page.get_by_role("link", name="Delete"),
             "Delete this appointment?")):
        if path:
            page.goto(live_server + path)
            page.wait_for_load_state()
        else:
            page.keyboard.press("Escape")  # the same page: close the modal before
        checked[name] = _modal_violations(page, axe_source, opener, name)
    assert checked == {name: [] for name in checked}
