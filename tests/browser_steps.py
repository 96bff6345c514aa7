"""Steps the browser tests share: signing in and reaching pages as a person would."""
import os
import re

from playwright.sync_api import expect

SHOTS = os.environ.get("CALBRIDGE_SHOTS", "/tmp/shots")


def sign_in(page, base, email, password="password123", landing="Dashboard"):
    """Sign in through the form; ``landing`` is the heading expected afterwards (None: don't wait)."""
    page.goto(base + "/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if landing:
        expect(page.get_by_role("heading", name=landing)).to_be_visible()
        page.wait_for_load_state()  # htmx is a deferred script: typing before "load" would go unheard


def open_connections(page):
    """Calendars > Calendar Settings > Connections, through the menus (C1)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendars").click()
    page.get_by_role("navigation", name="Calendars").get_by_role("link", name="Calendar Settings").click()
    page.get_by_role("navigation", name="Calendar Settings").get_by_role("link", name="Connections").click()
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    page.wait_for_load_state()  # Add New is an HTMX button: it does nothing until htmx has loaded


def connect_at_calendly(page, calendly_email, decision="Allow"):
    """Connections > Add New > Calendly > Connect, then the sandbox's own sign-in and consent pages (C1)."""
    page.get_by_role("button", name="Add New").click()
    dialog = page.get_by_role("dialog", name="Add a calendar connection")
    expect(dialog).to_be_visible()
    dialog.get_by_role("region", name="Calendly").get_by_role("button", name="Connect").click()
    # Calendly's (the sandbox's) own pages.
    page.get_by_label("Email").fill(calendly_email)
    page.get_by_label("Password").fill("calendly-pass")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=decision).click()


def import_calendars(page, calendars):
    """In the open "Choose calendars to import" modal: tick ``calendars`` and the consent box, then Save (C1)."""
    select = page.get_by_role("dialog", name="Choose calendars to import")
    for name in calendars:
        select.get_by_label(name).check()
    select.get_by_label(re.compile("consent")).check()
    select.get_by_role("button", name="Save").click()


def connected_row(page, calendly_email, timeout=30_000):
    """The Connections row of ``calendly_email`` once it says Connected (the import is done)."""
    row = page.get_by_role("row", name=re.compile(re.escape(calendly_email)))
    expect(row.get_by_text("Connected", exact=True)).to_be_visible(timeout=timeout)
    return row


def shot(page, name):
    """A full-page screenshot for a person to look at (not an assertion)."""
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
