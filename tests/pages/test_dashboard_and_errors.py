"""The dashboard (counts, upcoming, Calendly card, recent imports) and the error pages."""
import re
from datetime import timedelta

from portal.extensions import db
from portal.models import CalendlyConnection, Source, Status, Subaccount
from portal.timeutil import utcnow


def stat(html, label):
    """The count a dashboard card shows under ``label``."""
    found = re.search(r'<div class="stat-label">' + re.escape(label) + r'</div>\s*<div class="stat-value">([^<]*)<', html)
    return found and found.group(1)


def test_dashboard_counts_upcoming_and_recent_imports(client, signed_in, rows):
    grace = rows.contact(name="Grace Hopper")
    soon = rows.appointment(title="Soon", start=utcnow() + timedelta(hours=3), contact=grace)
    rows.appointment(title="Long ago", start=utcnow() - timedelta(days=40))
    rows.appointment(title="By phone", source=Source.PORTAL, start=utcnow() + timedelta(days=20))
    html = client.get("/dashboard").get_data(as_text=True)
    # Each card's link is named by what it shows (label, count, foot), as the eye reads it.
    assert stat(html, "Appointments") == "3" and stat(html, "Contacts") == "1"
    assert stat(html, "Next 7 days") == "1"
    upcoming, imports = html.split('id="imports-heading"')
    assert f'href="/calendars/appointments/{soon.id}">Soon</a>' in upcoming and "Grace Hopper" in upcoming
    assert "Long ago" not in upcoming
    assert "Soon" in imports and "Long ago" in imports and "By phone" not in imports


def test_dashboard_calendly_card(client, signed_in, rows):
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Not connected" in html and "Connect Calendly" in html
    with db.connection_context():
        CalendlyConnection.create(subaccount=Subaccount.get(name="Acme Dental"), user=signed_in,
                                  calendly_user_uri="https://api.calendly.com/users/U1", calendly_email="ann@cal.test",
                                  webhook_token="tok", status=Status.RECONNECT_NEEDED)
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'badge-reconnect_needed">Reconnect needed<' in html and "ann@cal.test" in html and ">Manage</a>" in html


def test_unknown_page_is_a_friendly_404(client, signed_in):
    resp = client.get("/no/such/page")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404 and "Page not found" in html and "Go to the dashboard" in html
    assert 'class="sidebar"' in html  # inside the layout, with the navigation


def test_404_when_signed_out_still_renders(client):
    resp = client.get("/no/such/page")
    assert resp.status_code == 404 and "Page not found" in resp.get_data(as_text=True)
    assert ">Sign in</a>" in resp.get_data(as_text=True)


def test_404_for_json_callers_is_json(client):
    resp = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and resp.get_json()["status"] == 404


def test_an_unexpected_error_is_a_friendly_500(app, people, auth, client):
    def boom():
        raise RuntimeError("kaboom")

    app.add_url_rule("/boom-for-test", "boom_for_test", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    people.user("ann@acme.test")
    auth.login("ann@acme.test")
    resp = client.get("/boom-for-test")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 500 and "Something went wrong" in html and "kaboom" not in html
