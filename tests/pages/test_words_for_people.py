"""Words for people (issue 16 item 5): no page a customer can open shows a code.

Customers are a subaccount's admin and user and an agency admin. They open
every GET page of the portal (full and HTMX, with the ids of real rows) in a
subaccount where a token was revoked, an import hit Calendly's rate limit,
Calendly was unreachable, a deletion and a workflow webhook failed and an
email was refused. No page may show an OAuth error code, an HTTP status
phrase or code, or a SPEC rule id; the support console still shows them.
"""
import pytest

from portal.extensions import db
from portal.mail import connection_alerts
from portal.models import OutboundEmail
from tests.reliability.helpers import url_for_rule

from words_sweep import (NOT_CUSTOMER_PAGES, RATE_LIMITED, REVOKED, UNREACHABLE, findings, troubled_subaccount,
                         visible_text)


def customer_pages(app, client, ids):
    """``{label: visible text}`` of every page a signed-in customer can request."""
    shown = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.startswith(NOT_CUSTOMER_PAGES):
            continue
        url = url_for_rule(rule, ids)
        for htmx in (False, True):
            resp = client.get(url, headers={"HX-Request": "true"} if htmx else {}, follow_redirects=True)
            assert resp.status_code < 500, f"{url} answered {resp.status_code}"
            if resp.mimetype == "text/html":
                shown[f"{url}{' (htmx)' if htmx else ''}"] = visible_text(resp.get_data(as_text=True))
    return shown


def codes_on(pages):
    return {label: found for label, text in pages.items() if (found := findings(text))}


@pytest.fixture
def troubled(people):
    return troubled_subaccount(people)


@pytest.fixture
def agency_admin(runner):
    result = runner.invoke(args=["admin", "create-agency-admin", "boss@agency.test", "--password", "agency-pass-123"])
    assert result.exit_code == 0, result.output
    return "boss@agency.test"


def test_the_sweep_finds_codes_where_they_are(troubled):
    """The checks are not vacuous: the technical text is stored, and the patterns catch it."""
    assert findings(REVOKED) and findings(RATE_LIMITED) and findings(UNREACHABLE)
    assert findings("Owner: O2: round robin") and findings("404 Page not found")
    assert not findings("Alice deleted 1,202 appointments of Intro Call at 10:45, 2 of 3 (45%).")


@pytest.mark.parametrize("email,password", [("alice@acme.test", "password123"), ("bob@acme.test", "password123")],
                         ids=["subaccount admin", "subaccount user"])
def test_no_customer_page_shows_a_code_or_a_rule_id(app, client, auth, troubled, email, password):
    auth.login(email, password)
    pages = customer_pages(app, client, troubled["ids"])
    assert len(pages) > 40  # every page, not a handful
    assert codes_on(pages) == {}
    everything = " ".join(pages.values())
    # The problems are still told, in words with what to do.
    assert "Calendly asked Calbridge to slow down" in everything  # Bob's own connection
    if email.startswith("alice"):  # an admin sees her own and the team's connections, Activity and Sent emails
        assert "Calendly no longer accepts this connection's sign-in. Reconnect to resume syncing." in everything
        assert "Calbridge could not reach Calendly for a while" in everything
        assert "Alice Admin deleted 1,202 appointments of Intro Call." in everything
        assert "The recipient's mail server refused this message." in everything


def test_no_agency_page_shows_a_code(app, client, auth, troubled, agency_admin):
    auth.login(agency_admin, "agency-pass-123")
    pages = customer_pages(app, client, troubled["ids"])
    assert any(label.startswith("/agency") for label in pages)
    assert codes_on(pages) == {}


def test_the_connection_alert_email_says_what_happened_in_words(app, troubled):
    with app.app_context(), db.connection_context():
        assert connection_alerts.check(troubled["ids"]["connection_id"]) == "alerted"
        alert = OutboundEmail.get(OutboundEmail.kind == "connection_alert")
    for body in (alert.text_body, visible_text(alert.html_body)):
        assert "Calendly no longer accepts this connection's sign-in" in body
        assert findings(body) == []


def test_the_support_console_keeps_the_technical_detail(app, client, auth, people, troubled):
    people.user("support@agency.test", subaccount=None, support=True)
    auth.login("support@agency.test")
    console = client.get(f"/support/connections/{troubled['ids']['connection_id']}").get_data(as_text=True)
    assert "invalid_grant" in console  # the code support staff search for
    bob = client.get(f"/support/connections/{troubled['ids']['bob_connection_id']}").get_data(as_text=True)
    assert "429 Too Many Requests" in bob
