"""Every page and modal fits a phone (390 px), a tablet (768 px) and a laptop (1366 px) (issue 16, item 3).

Each role (subaccount user, admin, agency staff, support staff) opens every GET page of ``app.url_map``
with the ids ``one_of_each`` makes, and the admin opens every modal by its button. At each width no page
is wider than the screen (``scrollWidth <= clientWidth``); below 900 px the main navigation folds behind
a Menu button. Screenshots land in build/screenshots/<width>/<page>.png for a person to look at.
"""
import os
from datetime import timedelta

import pytest
from browser_steps import sign_in
from playwright.sync_api import expect

from portal.models import CalendlyConnection, Status, Subaccount
from portal.timeutil import utcnow
from sync.helpers import one_of_each, select

pytestmark = pytest.mark.e2e

WIDTHS = (390, 768, 1366)
HEIGHT = {390: 844, 768: 1024, 1366: 768}
SHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "build", "screenshots")
SKIPPED_ENDPOINTS = {"static", "connections.connect_calendly", "connections.calendly_callback"}  # leave the portal
AGENCY = ("boss@agency.test", "agency-pass-123")

# What sticks out past the right edge, for the failure message: the outermost elements, and text running
# out of its box (a nowrap heading in a fixed-width cell).
CULPRITS = """() => {
  const w = document.documentElement.clientWidth, out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > w && r.width > 0 && !(el.parentElement && el.parentElement.getBoundingClientRect().right > w))
      out.push(el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined ? '.' + el.className : '')
               + ' (' + Math.round(r.right) + ' px)');
  }
  const text = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = text.nextNode());) {
    const range = document.createRange();
    range.selectNodeContents(node);
    if ([...range.getClientRects()].some(b => b.right > w)) out.push('text "' + node.textContent.trim().slice(0, 30) + '"');
  }
  return out.slice(0, 6);
}"""


@pytest.fixture
def acme(app_ctx, people, runner, rows):
    """Acme Dental as the demo leaves it: an admin with a live connection and imported bookings, a user."""
    ann = people.user("ann@acme.test", role="admin", name="Ann Admin")
    people.user("ann@acme.test", subaccount="Brightside Orthodontics of Greater Springfield", role="user")
    uma = people.user("uma@acme.test", role="user", name="Uma User")
    people.user("staff@agency.test", subaccount=None, support=True)
    result = runner.invoke(args=["admin", "create-agency-admin", AGENCY[0], "--password", AGENCY[1],
                                 "--name", "Bea Boss"])
    assert result.exit_code == 0, result.output
    acme = Subaccount.get(name="Acme Dental")
    ids = one_of_each(ann, acme, status=Status.CONNECTED, backfill_total=10, backfill_done=10,
                      calendly_name="Ann Admin (Acme Dental, main practice)")
    connection = CalendlyConnection.get_by_id(ids["connection_id"])
    select(connection, "https://api.calendly.com/event_types/CLEANING", "Cleaning and check-up (45 minutes)")
    select(connection, "https://api.calendly.com/event_types/TEAM", "New patient consultation", shared=True)
    guest = rows.contact(email="margaret.hamilton-whitfield@longfamilyname-example.com",
                         name="Margaret Hamilton-Whitfield", assigned_user=uma)
    start = (utcnow() + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
    for i, title in enumerate(("Cleaning and check-up with Dr. Hernandez", "New patient consultation",
                               "Follow-up on the whitening treatment plan")):
        rows.appointment(title=title, start=start + timedelta(hours=i), contact=guest, owner=ann,
                         calendar="Cleaning and check-up (45 minutes)",
                         event_type_uri="https://api.calendly.com/event_types/CLEANING")
    ids["uma"] = uma
    return ids


def pages(app, ids):
    """(name, path) of every GET page."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" in rule.methods and rule.endpoint not in SKIPPED_ENDPOINTS:
            yield rule.endpoint, rule.build(ids, append_unknown=False)[1]


def url(app, endpoint, **values):
    return app.url_map.bind("localhost").build(endpoint, values)


def overflow(page):
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


# Two frames after a resize the resize observers (stacked tables) have run; a page without our scripts
# (an email as its recipient sees it, in a sandbox) or without a table to stack has none to wait for.
SETTLED = """() => window.htmx && document.querySelector("table.stackable")
  && new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"""


class Sweep:
    """One browser page driven through widths; records what is too wide instead of stopping at the first.

    A page is photographed once per width, by the first role that may open it; a role's error pages
    (404 for another role's area) are checked once, they share one template."""

    shot = set()

    def __init__(self, page, role):
        self.page, self.role, self.too_wide, self.saw_error = page, role, [], False

    def check(self, name, widths=WIDTHS):
        for width in widths:
            self.page.set_viewport_size({"width": width, "height": HEIGHT[width]})
            self.page.evaluate(SETTLED)
            extra = overflow(self.page)
            if extra > 0:
                self.too_wide.append(f"{self.role} {name} at {width} px is {extra} px too wide: "
                                     f"{self.page.evaluate(CULPRITS)}")
            if (name, width) not in self.shot:
                self.shot.add((name, width))
                folder = os.path.join(SHOTS, str(width))
                os.makedirs(folder, exist_ok=True)
                self.page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)

    def every_page(self, app, base, ids, widths=WIDTHS):
        """Opens every page; returns the names of those the role may open."""
        opened = []
        for name, path in pages(app, ids):
            # Deferred scripts (htmx, ours) have run by DOMContentLoaded, after the style sheets.
            response = self.page.goto(base + path, wait_until="domcontentloaded")
            if not response.headers.get("content-type", "").startswith("text/html"):
                continue  # exports, the live poll, JSON
            if response.status >= 400:
                if self.saw_error:
                    continue
                self.saw_error, name = True, f"error-{response.status}"
            self.check(name, widths)
            if response.ok:
                opened.append(name)
        return opened

    def modal(self, url, button, name=None, row=None):
        """Opens a modal by its button on a phone, then checks it is wholly on screen at each width."""
        self.page.set_viewport_size({"width": 390, "height": HEIGHT[390]})
        self.page.goto(url, wait_until="domcontentloaded")
        (self.page.get_by_role("row", name=row) if row else self.page).get_by_role(button[0], name=button[1]).click()
        dialog = self.page.get_by_role("dialog", name=name) if name else self.page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": HEIGHT[width]})
            self.page.evaluate(SETTLED)
            box = dialog.bounding_box()
            assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width \
                and box["y"] + box["height"] <= HEIGHT[width], f"{button[1]} modal off screen at {width} px: {box}"
        self.check(f"modal-{button[1].lower().replace(' ', '-')}")


def test_the_menu_button_folds_the_navigation_on_a_phone_and_keeps_it_as_today_on_a_laptop(page, live_server, acme):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "ann@acme.test")
    nav = page.get_by_role("navigation", name="Main")
    menu = nav.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav.get_by_role("link", name="Contacts")).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Contacts")).to_be_visible()
    os.makedirs(os.path.join(SHOTS, "390"), exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, "390", "menu-open.png"))
    # Keyboard: Tab walks into the open links, Escape folds them and gives focus back to Menu.
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    expect(nav.get_by_role("link", name="Contacts")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(nav.get_by_role("link", name="Contacts")).to_be_visible()
    nav.get_by_role("link", name="Contacts").click()
    expect(page.get_by_role("heading", name="Contacts", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Contacts")).to_be_hidden()  # a new page opens with the menu folded

    page.set_viewport_size({"width": 1366, "height": 768})
    expect(menu).to_be_hidden()
    expect(nav.get_by_role("link", name="Contacts")).to_be_visible()
    expect(nav.get_by_role("link", name="Contacts")).to_have_attribute("aria-current", "page")
    box = nav.bounding_box()
    assert box["x"] == 0 and box["width"] == 232 and box["height"] == 768  # the sidebar as it was


def test_every_page_and_modal_fits_a_phone_a_tablet_and_a_laptop_for_every_role(page, app, live_server, acme):
    sweeps = []

    sign_in(page, live_server, "ann@acme.test")
    admin = Sweep(page, "admin")
    assert len(admin.every_page(app, live_server, acme)) > 25
    # The modals, opened by their buttons.
    mine = "Calendly connection ann@acme.test"
    admin.modal(live_server + url(app, "connections.index"), ("button", "Add New"), "Add a calendar connection")
    admin.modal(live_server + url(app, "connections.index"), ("button", "Edit"), "Edit imported calendars", row=mine)
    admin.modal(live_server + url(app, "connections.index"), ("button", "Disconnect"), row=mine)
    admin.modal(live_server + url(app, "team.index"), ("link", "Invite member"), "Invite member")
    admin.modal(live_server + url(app, "appointments.appointment", appointment_id=acme["appointment_id"]),
                ("link", "Delete"))
    sweeps.append(admin)

    for role, email, password, own_page in (("user", "uma@acme.test", "password123", "connections.index"),
                                            ("support", "staff@agency.test", "password123", "support.connection"),
                                            ("agency", *AGENCY, "agency.index")):
        page.context.clear_cookies()
        sign_in(page, live_server, email, password, landing=None)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        sweep = Sweep(page, role)
        assert own_page in sweep.every_page(app, live_server, acme)
        sweeps.append(sweep)

    page.context.clear_cookies()
    signed_out = Sweep(page, "signed-out")
    for name, path in (("signin", "/signin"), ("forgot-password", "/forgot-password")):
        page.goto(live_server + path)
        signed_out.check(name)
    sweeps.append(signed_out)

    too_wide = [line for s in sweeps for line in s.too_wide]
    assert not too_wide, "\n".join(too_wide)
