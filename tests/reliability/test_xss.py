"""HTML in names and emails is shown as text on every page (SPEC E1, E2, S2).

A guest books through the sandbox with a name and an email carrying markup,
in a calendar whose name carries markup, on a Calendly account whose name
does too; every page that may show them (to the user and to support staff,
full pages and HTMX fragments) shows them escaped. Query parameters the
pages echo back are tried as well.
"""
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from jobs.sync import reconcile_connection
from portal.models import Appointment, CalendlyConnection
from sync.helpers import connect_via_sandbox

from .helpers import soon

pytestmark = [pytest.mark.reliability, pytest.mark.portal_config(RQ_ASYNC=False)]

GUEST = "<script>alert(1)</script>"
ACCOUNT = "Ada <img src=x onerror=alert(2)>"
CALENDAR = "Cleaning <svg onload=alert(3)>"
EMAIL = 'xss"><svg/onload=alert(4)>@example.com'
QUERY = "<script>alert(5)</script>"
RAW = (GUEST, "<img src=x onerror=alert(2)>", "<svg onload=alert(3)>", "<svg/onload=alert(4)>", QUERY)


@pytest.fixture
def booked(app_ctx, stack, sandbox, people):
    ada = people.user("ada@acme.test", name="Ada Admin")
    people.user("support@agency.test", subaccount=None, support=True)
    sandbox.create_user("ada@cal.test", name=ACCOUNT)
    calendar = sandbox.create_event_type(CALENDAR, hosts=["ada@cal.test"])
    conn = connect_via_sandbox(stack, ada, people.subaccount(), "ada@cal.test", [calendar["uri"]])
    made = sandbox.book(calendar["uri"], soon(2), GUEST, EMAIL, guests=["plus-one@example.com"])
    reconcile_connection(conn.id)
    appointment = Appointment.get(Appointment.invitee_uri == made["invitee"])
    return {"connection": CalendlyConnection.get_by_id(conn.id), "appointment": appointment,
            "contact": appointment.contact, "invitee": made["invitee"]}


def pages(client, urls, htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    out = {}
    for url in urls:
        resp = client.get(url, headers=headers, follow_redirects=True)
        assert resp.status_code in (200, 286, 409), f"{url}: {resp.status_code}"  # 286: HTMX stop polling
        out[url + (" (htmx)" if htmx else "")] = resp.get_data(as_text=True)
    return out


def assert_escaped(shown):
    for url, html in shown.items():
        for raw in RAW:
            assert raw not in html, f"{url} shows {raw!r} unescaped"


def test_markup_from_calendly_is_escaped_on_every_page(client, auth, booked, reliability_report):
    a, c, conn = booked["appointment"], booked["contact"], booked["connection"]
    assert (c.name, a.calendar_name) == (GUEST, CALENDAR)
    day = a.start.date().isoformat()
    auth.login("ada@acme.test")
    user_pages = ["/dashboard", "/calendars/", f"/calendars/?calendar={a.event_type_uri}",
                  f"/calendars/week?start={day}", f"/calendars/appointments/{a.id}",
                  f"/calendars/appointments/{a.id}/edit", "/contacts/", "/contacts/?q=xss",
                  f"/contacts/{c.id}", "/calendars/settings/connections",
                  f"/calendars/settings/connections/{conn.id}/edit",
                  f"/calendars/settings/connections/{conn.id}/status"]
    shown = {**pages(client, user_pages), **pages(client, user_pages, htmx=True)}
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown[f"/calendars/appointments/{a.id}"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown[f"/contacts/{c.id}"]
    assert "&lt;svg onload=alert(3)&gt;" in shown["/calendars/settings/connections"] + shown[
        f"/calendars/settings/connections/{conn.id}/edit"]
    auth.logout()

    auth.login("support@agency.test")
    support_pages = ["/support/", "/support/?q=xss", f"/support/connections/{conn.id}",
                     f"/support/connections/{conn.id}?timeline=long", "/support/audit",
                     "/support/trace?" + urlencode({"q": booked["invitee"]}),
                     "/support/trace?" + urlencode({"q": EMAIL})]
    shown.update(pages(client, support_pages))
    shown.update(pages(client, support_pages, htmx=True))
    assert_escaped(shown)
    reliability_report.check(f"Stored XSS: guest, email, calendar and account names on {len(shown)} pages",
                             "always escaped")


def test_query_parameters_echoed_back_are_escaped(client, auth, people, reliability_report):
    people.user("ada@acme.test")
    people.user("support@agency.test", subaccount=None, support=True)
    auth.login("ada@acme.test")
    q = QUERY
    user_pages = ["/calendars/appointments/new?" + urlencode({"contact_name": q, "contact_email": q}),
                  "/contacts/?" + urlencode({"q": q}), "/calendars/?" + urlencode({"calendar": q, "when": q}),
                  "/calendars/week?" + urlencode({"start": q}), "/contacts/?" + urlencode({"after": q})]
    shown = {}
    for url in user_pages:
        resp = client.get(url)
        assert resp.status_code in (200, 400, 404), f"{url}: {resp.status_code}"
        shown[url] = resp.get_data(as_text=True)
    auth.logout()
    auth.login("support@agency.test")
    for url in ["/support/?" + urlencode({"q": q, "status": q}), "/support/trace?" + urlencode({"q": q}),
                "/support/audit?" + urlencode({"action": q})]:
        resp = client.get(url)
        assert resp.status_code in (200, 400, 404), f"{url}: {resp.status_code}"
        shown[url] = resp.get_data(as_text=True)
    assert_escaped(shown)
    reliability_report.check(f"Reflected XSS: {len(shown)} pages echoing query parameters", "always escaped")


@pytest.mark.e2e
def test_no_script_runs_in_a_real_browser(page, live_server, booked, reliability_report):
    """Chromium opens the pages showing the guest; no injected script may open a dialog."""
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live_server}/signin")
    page.get_by_label("Email").fill("ada@acme.test")
    page.get_by_label("Password").fill("password123")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    a, c = booked["appointment"], booked["contact"]
    for path in (f"/calendars/appointments/{a.id}", f"/contacts/{c.id}", "/contacts/", "/calendars/",
                 f"/calendars/week?start={a.start.date().isoformat()}", "/calendars/settings/connections"):
        page.goto(live_server + path)
        # Every script of the page has run by its load event and htmx has processed it (live pages
        # poll every 450 ms, so the network never goes idle).
        page.wait_for_load_state("load")
        page.wait_for_function("() => window.htmx !== undefined")
    page.goto(f"{live_server}/contacts/{c.id}")
    expect(page.get_by_text(GUEST).first).to_be_visible()  # shown as text, literally
    assert dialogs == []
    reliability_report.check("Stored XSS in Chromium", "the guest's name shows as text; no script ran")
